// Package token mints and verifies impression tokens: the signed, URL-safe
// strings at the end of every click URL.
//
// A token proves that our ad server showed a given ad at a given time. It is
// a compact binary payload followed by a truncated HMAC-SHA256 tag (RFC 2104;
// 128-bit tag as in RFC 4868), encoded with unpadded base64url:
//
//	payload = version(1) | len(kid)(1) kid | impression id(16)
//	          | uvarint issued-at (unix s) | uvarint ttl (s)
//	          | len(ad)(1) ad | len(placement)(1) placement
//	token   = base64url(payload | HMAC-SHA256(key[kid], payload)[:16])
//
// The key id travels in the clear so keys rotate: a Keyring signs with one
// key and verifies with several. Every rejection has its own error, so the
// click service can count and explain each kind of bad link.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"
)

const (
	version = 1
	// TagSize is the length in bytes of the truncated HMAC-SHA256 tag.
	TagSize = 16
	// MaxLen bounds the encoded token; longer input is rejected before any
	// decoding work is done.
	MaxLen = 256
	// MaxFieldLen bounds key, ad and placement ids inside a token.
	MaxFieldLen = 64
	// MinKeySize is the shortest secret a Keyring accepts (256 bits).
	MinKeySize = 32
	// ClockSkew is how far in the future an issue time may be.
	ClockSkew = 5 * time.Minute
)

// The distinct reasons a token is refused. Verify wraps nothing around them,
// so callers compare with errors.Is and use Reason for metrics and pages.
var (
	ErrEmpty       = errors.New("token: empty")
	ErrOversized   = errors.New("token: oversized")
	ErrMalformed   = errors.New("token: malformed")
	ErrTruncated   = errors.New("token: truncated")
	ErrVersion     = errors.New("token: unsupported version")
	ErrUnknownKey  = errors.New("token: unknown key")
	ErrTampered    = errors.New("token: signature mismatch")
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: issued in the future")
)

// Reason names err in one lowercase word, for metric labels and log fields.
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrEmpty, "empty"}, {ErrOversized, "oversized"}, {ErrMalformed, "malformed"},
		{ErrTruncated, "truncated"}, {ErrVersion, "version"}, {ErrUnknownKey, "unknown_key"},
		{ErrTampered, "tampered"}, {ErrExpired, "expired"}, {ErrNotYetValid, "not_yet_valid"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "invalid"
}

// ImpressionID identifies one ad impression: 128 random bits.
type ImpressionID [16]byte

// String renders the id as 32 lowercase hex digits, the form used in events.
func (id ImpressionID) String() string { return hex.EncodeToString(id[:]) }

// NewImpressionID returns a fresh random impression id.
func NewImpressionID() ImpressionID {
	var id ImpressionID
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return id
}

// Claims is what a token asserts.
type Claims struct {
	KeyID        string
	ImpressionID ImpressionID
	AdID         string
	PlacementID  string
	IssuedAt     time.Time // second precision
	ExpiresAt    time.Time // second precision
}

// Sign encodes and signs c with the keyring's signing key. c.KeyID is
// ignored and replaced by the signing key's id.
func (k *Keyring) Sign(c Claims) (string, error) {
	if err := checkField("ad id", c.AdID, 1); err != nil {
		return "", err
	}
	if err := checkField("placement id", c.PlacementID, 0); err != nil {
		return "", err
	}
	if !c.ExpiresAt.After(c.IssuedAt) || c.IssuedAt.Unix() < 0 {
		return "", fmt.Errorf("token: expiry %v is not after issue time %v", c.ExpiresAt, c.IssuedAt)
	}
	kid := k.signing
	buf := make([]byte, 0, 64+len(c.AdID)+len(c.PlacementID))
	buf = append(buf, version, byte(len(kid)))
	buf = append(buf, kid...)
	buf = append(buf, c.ImpressionID[:]...)
	buf = binary.AppendUvarint(buf, uint64(c.IssuedAt.Unix()))
	buf = binary.AppendUvarint(buf, uint64(c.ExpiresAt.Unix()-c.IssuedAt.Unix()))
	buf = append(buf, byte(len(c.AdID)))
	buf = append(buf, c.AdID...)
	buf = append(buf, byte(len(c.PlacementID)))
	buf = append(buf, c.PlacementID...)
	buf = append(buf, k.tag(kid, buf)...)
	s := base64.RawURLEncoding.EncodeToString(buf)
	if len(s) > MaxLen {
		return "", fmt.Errorf("token: encoded length %d exceeds %d", len(s), MaxLen)
	}
	return s, nil
}

func checkField(what, v string, min int) error {
	if len(v) < min || len(v) > MaxFieldLen {
		return fmt.Errorf("token: %s length %d not in [%d, %d]", what, len(v), min, MaxFieldLen)
	}
	return nil
}

// tag computes the truncated HMAC of payload under key kid. MACs are
// pooled per key: hmac.New costs two hash states per click otherwise.
func (k *Keyring) tag(kid string, payload []byte) []byte {
	pool := k.macs[kid]
	m := pool.Get().(hash.Hash)
	m.Reset()
	m.Write(payload)
	sum := m.Sum(make([]byte, 0, sha256.Size))
	pool.Put(m)
	return sum[:TagSize]
}

// Verify checks tok and returns its claims. An authentic token that has
// expired returns its claims together with ErrExpired, so the caller can
// still tell which ad it was for; every other error returns zero Claims.
// The tag comparison is constant-time.
func (k *Keyring) Verify(tok string, now time.Time) (Claims, error) {
	c, payload, tag, err := parse(tok)
	if err != nil {
		return Claims{}, err
	}
	if _, ok := k.keys[c.KeyID]; !ok {
		return Claims{}, ErrUnknownKey
	}
	if !hmac.Equal(tag, k.tag(c.KeyID, payload)) {
		return Claims{}, ErrTampered
	}
	if c.IssuedAt.After(now.Add(ClockSkew)) {
		return Claims{}, ErrNotYetValid
	}
	if !now.Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	return c, nil
}

// parse decodes the structure of tok without checking its tag.
func parse(tok string) (c Claims, payload, tag []byte, err error) {
	switch {
	case tok == "":
		return c, nil, nil, ErrEmpty
	case len(tok) > MaxLen:
		return c, nil, nil, ErrOversized
	}
	// The decoder skips CR and LF and tolerates stray trailing bits, which
	// would give one token many spellings; accept only the canonical one.
	if !isBase64URL(tok) {
		return c, nil, nil, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return c, nil, nil, ErrMalformed
	}
	r := reader{b: raw}
	if v := r.byte(); r.err == nil && v != version {
		return c, nil, nil, ErrVersion
	}
	c.KeyID = r.str()
	copy(c.ImpressionID[:], r.bytes(len(c.ImpressionID)))
	issued := r.uvarint()
	ttl := r.uvarint()
	c.AdID = r.str()
	c.PlacementID = r.str()
	if r.err != nil {
		return Claims{}, nil, nil, r.err
	}
	switch rest := len(raw) - r.off; {
	case rest < TagSize:
		return Claims{}, nil, nil, ErrTruncated
	case rest > TagSize:
		return Claims{}, nil, nil, ErrMalformed
	}
	const maxUnix = 1 << 40 // far beyond any real date; keeps time arithmetic exact
	if c.KeyID == "" || c.AdID == "" || issued > maxUnix || ttl == 0 || ttl > maxUnix {
		return Claims{}, nil, nil, ErrMalformed
	}
	c.IssuedAt = time.Unix(int64(issued), 0).UTC()
	c.ExpiresAt = time.Unix(int64(issued+ttl), 0).UTC()
	return c, raw[:r.off], raw[r.off:], nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

// reader consumes a byte slice, remembering the first error: running off
// the end is always truncation.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.err = ErrTruncated
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) byte() byte {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) str() string {
	n := int(r.byte())
	if r.err == nil && n > MaxFieldLen {
		r.err = ErrMalformed
	}
	return string(r.bytes(n))
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.err = ErrTruncated
	case n < 0:
		r.err = ErrMalformed
	default:
		r.off += n
	}
	return v
}
