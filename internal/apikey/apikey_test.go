package apikey

import (
	"strings"
	"testing"
)

func TestHash(t *testing.T) {
	pepper := []byte(strings.Repeat("p", MinPepper))
	h := Hash(pepper, "key")
	for _, tc := range []struct {
		name string
		h    string
		want bool
	}{
		{"hash", h, true},
		{"upper case", strings.ToUpper(h), true},
		{"short", h[:63], false},
		{"not hex", "g" + h[1:], false},
		{"the key itself", "key", false},
	} {
		if got := IsHash(tc.h); got != tc.want {
			t.Errorf("%s: IsHash(%q) = %v, want %v", tc.name, tc.h, got, tc.want)
		}
	}
	if h == Hash([]byte(strings.Repeat("q", MinPepper)), "key") {
		t.Error("two peppers give one hash")
	}
	if h != Hash(pepper, "key") {
		t.Error("the hash of a key changes")
	}
}

func TestCheckPepper(t *testing.T) {
	if err := CheckPepper([]byte("short")); err == nil {
		t.Error("a 5-byte pepper was accepted")
	}
	if err := CheckPepper([]byte(strings.Repeat("p", MinPepper))); err != nil {
		t.Errorf("a %d-byte pepper was refused: %v", MinPepper, err)
	}
}
