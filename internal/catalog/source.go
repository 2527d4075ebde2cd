package catalog

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"

	"cloud.google.com/go/storage"
)

// maxCatalogBytes bounds what a reload reads, so a runaway file cannot
// exhaust memory.
const maxCatalogBytes = 64 << 20

// Source is where a catalog document lives: a local path or gs://bucket/object.
type Source struct {
	loc string
	gcs *storage.Client // nil for local files
}

// NewSource opens loc. For gs:// locations it creates a Cloud Storage client
// with Application Default Credentials (STORAGE_EMULATOR_HOST is honoured by
// the client library).
func NewSource(ctx context.Context, loc string) (*Source, error) {
	s := &Source{loc: loc}
	if strings.HasPrefix(loc, "gs://") {
		c, err := storage.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("catalog %s: storage client: %w", loc, err)
		}
		s.gcs = c
	}
	return s, nil
}

// String is the location, for logs.
func (s *Source) String() string { return s.loc }

// Close releases the storage client, if any.
func (s *Source) Close() error {
	if s.gcs != nil {
		return s.gcs.Close()
	}
	return nil
}

// Version is a cheap fingerprint of the current document: the object
// generation on Cloud Storage, modification time and size locally. A
// change of version triggers a full read.
func (s *Source) Version(ctx context.Context) (string, error) {
	if s.gcs != nil {
		bucket, object, err := splitGCS(s.loc)
		if err != nil {
			return "", err
		}
		attrs, err := s.gcs.Bucket(bucket).Object(object).Attrs(ctx)
		if err != nil {
			return "", fmt.Errorf("catalog %s: stat: %w", s.loc, err)
		}
		return fmt.Sprintf("gen:%d", attrs.Generation), nil
	}
	fi, err := os.Stat(s.loc)
	if err != nil {
		return "", fmt.Errorf("catalog %s: stat: %w", s.loc, err)
	}
	return fmt.Sprintf("%d:%d", fi.ModTime().UnixNano(), fi.Size()), nil
}

// Read returns the document and a hash of its content.
func (s *Source) Read(ctx context.Context) ([]byte, string, error) {
	var r io.ReadCloser
	if s.gcs != nil {
		bucket, object, err := splitGCS(s.loc)
		if err != nil {
			return nil, "", err
		}
		if r, err = s.gcs.Bucket(bucket).Object(object).NewReader(ctx); err != nil {
			return nil, "", fmt.Errorf("catalog %s: open: %w", s.loc, err)
		}
	} else {
		f, err := os.Open(s.loc)
		if err != nil {
			return nil, "", fmt.Errorf("catalog %s: open: %w", s.loc, err)
		}
		r = f
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxCatalogBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("catalog %s: read: %w", s.loc, err)
	}
	if len(data) > maxCatalogBytes {
		return nil, "", fmt.Errorf("catalog %s: larger than %d bytes", s.loc, maxCatalogBytes)
	}
	sum := sha256.Sum256(data)
	return data, fmt.Sprintf("%x", sum[:8]), nil
}

func splitGCS(loc string) (bucket, object string, err error) {
	rest := strings.TrimPrefix(loc, "gs://")
	bucket, object, ok := strings.Cut(rest, "/")
	if !ok || bucket == "" || object == "" {
		return "", "", fmt.Errorf("catalog location %q: want gs://bucket/object", loc)
	}
	return bucket, object, nil
}
