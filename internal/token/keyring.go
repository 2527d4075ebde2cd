package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"sync"
)

// Keyring holds the secrets that sign and verify tokens. Rotation: add the
// new key to every verifier, then make it the signing key, then, once the
// longest token lifetime has passed, drop the old key.
type Keyring struct {
	signing string
	keys    map[string][]byte
	macs    map[string]*sync.Pool // of hash.Hash, one pool per key
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

// NewKeyring returns a keyring that signs with keys[signing] and verifies
// with any of keys. Key ids are 1-16 characters of [A-Za-z0-9_-] and each
// secret is at least MinKeySize bytes.
func NewKeyring(signing string, keys map[string][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("token keyring: no keys")
	}
	k := &Keyring{signing: signing, keys: make(map[string][]byte, len(keys)), macs: make(map[string]*sync.Pool, len(keys))}
	for id, secret := range keys {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("token keyring: key id %q must match %s", id, keyIDPattern)
		}
		if len(secret) < MinKeySize {
			return nil, fmt.Errorf("token keyring: key %q is %d bytes, need at least %d", id, len(secret), MinKeySize)
		}
		key := append([]byte(nil), secret...)
		k.keys[id] = key
		k.macs[id] = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	if _, ok := k.keys[signing]; !ok {
		return nil, fmt.Errorf("token keyring: signing key %q is not among the keys", signing)
	}
	return k, nil
}

// SigningKeyID is the id new tokens carry.
func (k *Keyring) SigningKeyID() string { return k.signing }

// KeyIDs lists the verifying key ids, sorted. It never exposes secrets.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// File is the JSON form of a keyring, as stored in Secret Manager or in the
// local stack's state folder:
//
//	{"signing_key_id": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}
type File struct {
	SigningKeyID string            `json:"signing_key_id"`
	Keys         map[string]string `json:"keys"`
}

// ParseKeyring decodes the JSON form of a keyring.
func ParseKeyring(data []byte) (*Keyring, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("token keyring: decode JSON: %w", err)
	}
	keys := make(map[string][]byte, len(f.Keys))
	for id, b64 := range f.Keys {
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("token keyring: key %q is not base64: %w", id, err)
		}
		keys[id] = secret
	}
	return NewKeyring(f.SigningKeyID, keys)
}

// LoadKeyring reads the JSON form of a keyring from path.
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token keyring: %w", err)
	}
	return ParseKeyring(data)
}
