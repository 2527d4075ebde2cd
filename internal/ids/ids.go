// Package ids is the one rule for identifiers that become keys: the
// advertiser, ad and campaign ids of the catalog, which the click service
// signs into tokens, the pipelines put into row keys, shuffle keys and
// file names, and the reports take from URLs; and the click and
// impression ids the click service mints.
//
// A name that passes cannot break a key: no separator a key uses ('#',
// '/', '|', '@', ':'), no control byte, no space, bounded length.
package ids

import (
	"errors"
	"fmt"
)

// MaxName is the longest advertiser, ad or campaign id.
const MaxName = 64

// ErrInvalid is wrapped by every error of this package.
var ErrInvalid = errors.New("invalid id")

// CheckName reports whether s is a valid advertiser, ad or campaign id:
// 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit. what
// names the field in the error.
func CheckName(what, s string) error {
	if len(s) == 0 || len(s) > MaxName {
		return fmt.Errorf("%w: %s must be 1 to %d characters, got %d", ErrInvalid, what, MaxName, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := isAlnum(c) || (i > 0 && (c == '.' || c == '_' || c == '-'))
		if !ok {
			return fmt.Errorf("%w: %s %.70q: byte %d (%q) is not a letter, digit, '.', '_' or '-' (first a letter or digit)", ErrInvalid, what, s, i, c)
		}
	}
	return nil
}

// NameRule describes CheckName's rule for error messages and docs.
const NameRule = "1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"

// CheckMinted reports whether s is an id the click service mints for
// clicks and impressions: 128 bits as 32 lower-case hex digits.
func CheckMinted(what, s string) error {
	if len(s) != 32 {
		return fmt.Errorf("%w: %s must be 32 hex digits, got %d characters", ErrInvalid, what, len(s))
	}
	// One table lookup per byte, ORed, and the loop only when that
	// fails: the nightly checks three ids of every archived click.
	var bad byte
	for i := 0; i < len(s); i++ {
		bad |= notLowerHex[s[i]]
	}
	if bad == 0 {
		return nil
	}
	for i := 0; i < len(s); i++ {
		if notLowerHex[s[i]] != 0 {
			return fmt.Errorf("%w: %s %.40q: byte %d is not a lower-case hex digit", ErrInvalid, what, s, i)
		}
	}
	return nil
}

// notLowerHex is 1 for every byte but 0-9 and a-f.
var notLowerHex = func() (t [256]byte) {
	for c := range t {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			t[c] = 1
		}
	}
	return t
}()

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
