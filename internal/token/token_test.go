package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	now     = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	secretA = bytes.Repeat([]byte{'a'}, 32)
	secretB = bytes.Repeat([]byte{'b'}, 32)
)

func mustKeyring(t testing.TB, signing string, keys map[string][]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(signing, keys)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleClaims() Claims {
	return Claims{
		ImpressionID: ImpressionID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		AdID:         "ad-shoes-1",
		PlacementID:  "news-top",
		IssuedAt:     now.Add(-time.Minute),
		ExpiresAt:    now.Add(time.Hour),
	}
}

func TestRoundTrip(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": secretA})
	tok, err := k.Sign(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	if len(tok) > 100 {
		t.Errorf("token is %d chars, want compact (<=100)", len(tok))
	}
	got, err := k.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleClaims()
	want.KeyID = "k1"
	if got != want {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
}

// flip returns tok with one bit of its decoded byte i inverted.
func flip(t *testing.T, tok string, i int) string {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyRejections(t *testing.T) {
	old := mustKeyring(t, "k1", map[string][]byte{"k1": secretA})
	rotated := mustKeyring(t, "k2", map[string][]byte{"k1": secretA, "k2": secretB})
	other := mustKeyring(t, "k1", map[string][]byte{"k1": secretB})
	good, _ := old.Sign(sampleClaims())
	expiredClaims := sampleClaims()
	expiredClaims.IssuedAt, expiredClaims.ExpiresAt = now.Add(-2*time.Hour), now.Add(-time.Hour)
	expired, _ := old.Sign(expiredClaims)
	edge := sampleClaims()
	edge.ExpiresAt = now
	atExpiry, _ := old.Sign(edge)
	future := sampleClaims()
	future.IssuedAt, future.ExpiresAt = now.Add(time.Hour), now.Add(2*time.Hour)
	fromFuture, _ := old.Sign(future)
	v2 := flip(t, good, 0)

	tests := []struct {
		name   string
		ring   *Keyring
		tok    string
		want   error
		reason string
	}{
		{"valid", old, good, nil, "ok"},
		{"old key still verifies after rotation", rotated, good, nil, "ok"},
		{"empty", old, "", ErrEmpty, "empty"},
		{"oversized", old, strings.Repeat("A", MaxLen+1), ErrOversized, "oversized"},
		{"not base64", old, "abc$def", ErrMalformed, "malformed"},
		{"truncated tag", old, good[:len(good)-4], ErrTruncated, "truncated"},
		{"truncated payload", old, good[:10], ErrTruncated, "truncated"},
		{"trailing bytes", old, good + "AAAA", ErrMalformed, "malformed"},
		{"tampered payload", old, flip(t, good, 20), ErrTampered, "tampered"},
		{"tampered tag", old, flip(t, good, -1), ErrTampered, "tampered"},
		{"wrong secret", other, good, ErrTampered, "tampered"},
		{"unknown key", mustKeyring(t, "k9", map[string][]byte{"k9": secretA}), good, ErrUnknownKey, "unknown_key"},
		{"unsupported version", old, v2, ErrVersion, "version"},
		{"expired", old, expired, ErrExpired, "expired"},
		{"expires exactly now", old, atExpiry, ErrExpired, "expired"},
		{"issued in the future", old, fromFuture, ErrNotYetValid, "not_yet_valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ring.Verify(tt.tok, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestExpiredKeepsClaims(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": secretA})
	tok, _ := k.Sign(sampleClaims())
	c, err := k.Verify(tok, now.Add(2*time.Hour))
	if !errors.Is(err, ErrExpired) || c.AdID != "ad-shoes-1" {
		t.Fatalf("Verify after expiry = %+v, %v; want claims and ErrExpired", c, err)
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": secretA})
	tests := []struct {
		name   string
		mutate func(*Claims)
	}{
		{"no ad", func(c *Claims) { c.AdID = "" }},
		{"long ad", func(c *Claims) { c.AdID = strings.Repeat("x", MaxFieldLen+1) }},
		{"long placement", func(c *Claims) { c.PlacementID = strings.Repeat("x", MaxFieldLen+1) }},
		{"expiry before issue", func(c *Claims) { c.ExpiresAt = c.IssuedAt }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleClaims()
			tt.mutate(&c)
			if _, err := k.Sign(c); err == nil {
				t.Error("Sign accepted bad claims")
			}
		})
	}
}

func TestKeyringValidation(t *testing.T) {
	tests := []struct {
		name    string
		signing string
		keys    map[string][]byte
	}{
		{"no keys", "k1", nil},
		{"short secret", "k1", map[string][]byte{"k1": []byte("short")}},
		{"bad id", "k 1", map[string][]byte{"k 1": secretA}},
		{"signing key missing", "k2", map[string][]byte{"k1": secretA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeyring(tt.signing, tt.keys); err == nil {
				t.Error("NewKeyring accepted an invalid keyring")
			}
		})
	}
}

func TestParseKeyring(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(secretA)
	k, err := ParseKeyring([]byte(`{"signing_key_id":"k1","keys":{"k1":"` + b64 + `","k0":"` + b64 + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(k.KeyIDs(), ","); got != "k0,k1" || k.SigningKeyID() != "k1" {
		t.Errorf("keys %s signing %s", got, k.SigningKeyID())
	}
	if _, err := ParseKeyring([]byte(`{"signing_key_id":"k1","keys":{"k1":"%%%"}}`)); err == nil {
		t.Error("accepted non-base64 secret")
	}
}

// FuzzVerify checks that no input crashes the parser, that only authentic
// tokens are accepted, and that whatever is accepted re-signs to itself.
func FuzzVerify(f *testing.F) {
	k := mustKeyring(f, "k1", map[string][]byte{"k1": secretA})
	good, _ := k.Sign(sampleClaims())
	for _, s := range []string{good, good[:20], "", "AAAA", strings.Repeat("_", 300), good + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := k.Verify(tok, now)
		if err != nil {
			if Reason(err) == "invalid" {
				t.Fatalf("error %v has no distinct reason", err)
			}
			return
		}
		again, err := k.Sign(c)
		if err != nil {
			t.Fatalf("accepted claims %+v do not re-sign: %v", c, err)
		}
		if again != tok {
			t.Fatalf("accepted %q but its claims sign to %q", tok, again)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	k := mustKeyring(b, "k1", map[string][]byte{"k1": secretA})
	tok, _ := k.Sign(sampleClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
