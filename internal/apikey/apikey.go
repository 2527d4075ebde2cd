// Package apikey is how advertisers' API keys are stored and checked: the
// catalog holds HMAC-SHA256 hashes of the keys under a pepper the reports
// service keeps secret, never the keys. The reports service, the key
// generator and the local stack's catalog writer all hash through here.
package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is how an API key is stored in the catalog (api_key_hashes):
// HMAC-SHA256 under the pepper, hex. A leaked catalog alone does not let
// anyone check guesses offline. Rotation: add the new key's hash, hand the
// key over, remove the old hash.
func Hash(pepper []byte, key string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// IsHash reports whether h has the form Hash gives (either case of hex).
func IsHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i] | 0x20 // either case
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MinPepper is the shortest pepper accepted: a short one makes the stored
// hashes guessable offline.
const MinPepper = 32

// CheckPepper refuses a pepper shorter than MinPepper bytes.
func CheckPepper(pepper []byte) error {
	if len(pepper) < MinPepper {
		return fmt.Errorf("API-key pepper is %d bytes, need at least %d", len(pepper), MinPepper)
	}
	return nil
}
