package clickevent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// UserKeyer derives the privacy-safe user key. The pepper is a secret: with
// it an attacker could test guesses of IP addresses against the keys.
type UserKeyer struct {
	macs sync.Pool // of hash.Hash keyed with the pepper
}

// NewUserKeyer returns a keyer for a pepper of at least 32 bytes.
func NewUserKeyer(pepper []byte) (*UserKeyer, error) {
	if len(pepper) < 32 {
		return nil, fmt.Errorf("user key pepper is %d bytes, need at least 32", len(pepper))
	}
	p := append([]byte(nil), pepper...)
	return &UserKeyer{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, p) }}}, nil
}

// FromCookie keys a user by our first-party cookie value.
func (k *UserKeyer) FromCookie(cookie string) string {
	return k.sum("c", cookie)
}

// FromClient keys a user without a cookie by address and user agent.
func (k *UserKeyer) FromClient(ip, userAgent string) string {
	return k.sum("a", ip+"\x00"+userAgent)
}

func (k *UserKeyer) sum(kind, v string) string {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	k.macs.Put(m)
	return hex.EncodeToString(sum[:16])
}
