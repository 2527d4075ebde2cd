package netranges

import (
	"fmt"
	"strings"
	"testing"
)

func TestContains(t *testing.T) {
	s, err := Parse(strings.NewReader("# clouds\n203.0.113.0/24\n\n2001:db8::/32\n198.51.100.7\n10.1.2.3/8\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 {
		t.Errorf("%d ranges, want 4", s.Len())
	}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"203.0.113.9", true},
		{"203.0.114.9", false},
		{"::ffff:203.0.113.9", true}, // IPv4-mapped
		{"2001:db8:1::1", true},
		{"2001:db9::1", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"10.200.0.1", true}, // 10.1.2.3/8 is masked to 10.0.0.0/8
		{"not an address", false},
		{"", false},
	} {
		if got := s.Contains(tt.addr); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	var none *Set
	if none.Contains("203.0.113.9") {
		t.Error("a nil set contains an address")
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(strings.NewReader("203.0.113.0/24\nexample.com\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a host name parsed: %v", err)
	}
}

// BenchmarkContains: a list the size of a cloud provider's published ranges.
func BenchmarkContains(b *testing.B) {
	var lines []string
	for i := range 20000 {
		lines = append(lines, fmt.Sprintf("%d.%d.%d.0/%d", 20+i%200, i/200%256, i%256, 20+i%5))
	}
	s, err := Parse(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		s.Contains(fmt.Sprintf("198.%d.%d.1", i%256, i/256%256))
	}
}
