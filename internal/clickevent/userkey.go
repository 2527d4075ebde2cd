package clickevent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// UserKeyer derives the privacy-safe user key. The pepper is a secret: with
// it an attacker could test guesses of IP addresses against the keys.
type UserKeyer struct {
	pepper []byte
}

// NewUserKeyer returns a keyer for a pepper of at least 32 bytes.
func NewUserKeyer(pepper []byte) (*UserKeyer, error) {
	if len(pepper) < 32 {
		return nil, fmt.Errorf("user key pepper is %d bytes, need at least 32", len(pepper))
	}
	return &UserKeyer{pepper: append([]byte(nil), pepper...)}, nil
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
	m := hmac.New(sha256.New, k.pepper)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
