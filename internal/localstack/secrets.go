package localstack

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/adclick/adclick/internal/token"
)

// Secrets are the paths of the local stack's secrets. They are generated
// on first use into the state folder (git-ignored), never shipped.
type Secrets struct {
	TokenKeys       string
	Pepper          string
	AdServerSecrets string
	AdServerSecret  string // the value, for the local stack's own minting
}

// EnsureSecrets creates missing secrets under dir/secrets and returns them.
func EnsureSecrets(dir string) (Secrets, error) {
	sdir := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return Secrets{}, fmt.Errorf("secrets folder: %w", err)
	}
	s := Secrets{
		TokenKeys:       filepath.Join(sdir, "token-keys.json"),
		Pepper:          filepath.Join(sdir, "user-key-pepper"),
		AdServerSecrets: filepath.Join(sdir, "ad-server-secrets"),
	}
	gen := map[string]func() ([]byte, error){
		s.TokenKeys: func() ([]byte, error) {
			return json.MarshalIndent(token.File{SigningKeyID: "local1", Keys: map[string]string{
				"local1": base64.StdEncoding.EncodeToString(random(32)),
			}}, "", "  ")
		},
		s.Pepper:          func() ([]byte, error) { return []byte(hex.EncodeToString(random(32))), nil },
		s.AdServerSecrets: func() ([]byte, error) { return []byte("local-" + hex.EncodeToString(random(16)) + "\n"), nil },
	}
	for path, make := range gen {
		if _, err := os.Stat(path); err == nil {
			continue
		}
		data, err := make()
		if err != nil {
			return Secrets{}, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return Secrets{}, fmt.Errorf("write %s: %w", path, err)
		}
	}
	data, err := os.ReadFile(s.AdServerSecrets)
	if err != nil {
		return Secrets{}, err
	}
	for _, line := range splitLines(string(data)) {
		s.AdServerSecret = line
		break
	}
	return s, nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if line := s[start:i]; line != "" && line[0] != '#' {
				out = append(out, line)
			}
			start = i + 1
		}
	}
	return out
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
