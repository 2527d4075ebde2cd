// Command keygen makes the secrets a deployment needs:
//
//	keygen token-keys [-id ID]          a token keyring with one new signing key (JSON, for adclick-token-keys)
//	keygen rotate -keys FILE [-id ID]   the keyring in FILE with a new signing key added, old keys still verifying
//	keygen api-key -pepper-file FILE    a new advertiser API key, and its hash for the catalog's api_key_hashes
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/token"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: keygen token-keys | rotate -keys FILE | api-key -pepper-file FILE")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	id := fs.String("id", "k"+time.Now().UTC().Format("20060102"), "id of the new key")
	keys := fs.String("keys", "", "rotate: the current keyring file")
	pepperFile := fs.String("pepper-file", "", "api-key: the API-key pepper")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "token-keys":
		err = emit(token.File{SigningKeyID: *id, Keys: map[string]string{*id: newKey()}})
	case "rotate":
		var f token.File
		data, rerr := os.ReadFile(*keys)
		if rerr != nil {
			err = rerr
			break
		}
		if err = json.Unmarshal(data, &f); err != nil {
			break
		}
		if _, taken := f.Keys[*id]; taken {
			err = fmt.Errorf("key id %s is taken", *id)
			break
		}
		f.Keys[*id], f.SigningKeyID = newKey(), *id
		err = emit(f)
	case "api-key":
		raw, rerr := os.ReadFile(*pepperFile)
		if rerr != nil {
			err = rerr
			break
		}
		pepper := []byte(strings.TrimSpace(string(raw)))
		if err = apikey.CheckPepper(pepper); err != nil {
			break
		}
		b := make([]byte, 24)
		rand.Read(b)
		key := "ak_" + hex.EncodeToString(b)
		fmt.Printf("key  %s\nhash %s\n", key, apikey.Hash(pepper, key))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func newKey() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func emit(f token.File) error {
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
