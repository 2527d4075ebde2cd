package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/adclick/adclick/internal/catalog"
)

// HashAPIKey is how an API key is stored in the catalog
// (api_key_hashes): HMAC-SHA256 under the service's pepper, hex. A leaked
// catalog alone does not let anyone check guesses offline. Rotation: add
// the new key's hash, hand the key over, remove the old hash.
func HashAPIKey(pepper []byte, key string) string {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// MinPepper is the shortest API-key pepper accepted: a short one makes
// the stored hashes guessable offline.
const MinPepper = 32

// CheckPepper refuses a pepper shorter than MinPepper bytes.
func CheckPepper(pepper []byte) error {
	if len(pepper) < MinPepper {
		return fmt.Errorf("API-key pepper is %d bytes, need at least %d", len(pepper), MinPepper)
	}
	return nil
}

// advertiserFor returns the advertiser whose hashes include keyHash
// (HashAPIKey of the key presented).
func advertiserFor(cat *catalog.Catalog, keyHash string) (*catalog.Advertiser, bool) {
	h := []byte(keyHash)
	var found *catalog.Advertiser
	for _, id := range cat.Advertisers() {
		a, _ := cat.Advertiser(id)
		for _, stored := range a.APIKeyHashes {
			// Constant time per comparison; the loop visits every hash.
			if subtle.ConstantTimeCompare(h, []byte(strings.ToLower(stored))) == 1 {
				found = a
			}
		}
	}
	return found, found != nil
}
