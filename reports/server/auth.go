package server

import (
	"crypto/subtle"
	"strings"

	"github.com/adclick/adclick/internal/catalog"
)

// advertiserFor returns the advertiser whose hashes include keyHash
// (apikey.Hash of the key presented).
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
