package ids

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"acme", true}, {"ad-1", true}, {"A.b_c-9", true}, {"9", true}, {strings.Repeat("a", 64), true},
		{"", false}, {strings.Repeat("a", 65), false}, {"-ad", false}, {".ad", false}, {"_ad", false},
		{"a#b", false}, {"a/b", false}, {"a@b", false}, {"a|b", false}, {"a:b", false}, {"a b", false},
		{"a\x00b", false}, {"a\nb", false}, {"a\x7f", false}, {"é", false}, {"*", false},
	} {
		err := CheckName("ad_id", tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tt.id, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ad_id")) {
			t.Errorf("CheckName(%q) error %q does not name the field or wrap ErrInvalid", tt.id, err)
		}
	}
}

func TestCheckMinted(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"00112233445566778899aabbccddeeff", true},
		{"00112233445566778899AABBCCDDEEFF", false}, {"00112233445566778899aabbccddeef", false},
		{"00112233445566778899aabbccddeeff0", false}, {"click-000001", false}, {"", false},
		{"0011223344556677889#aabbccddeeff", false},
	} {
		if err := CheckMinted("click_id", tt.id); (err == nil) != tt.ok {
			t.Errorf("CheckMinted(%q) = %v, want ok %v", tt.id, err, tt.ok)
		}
	}
}
