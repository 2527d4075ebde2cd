package blob

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLocalStore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := Open(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		w, err := s.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("a/2026/x.avro", "one")
	write("a/2026/y.avro", "two")
	write("b/z", "three")

	// An unfinished write is invisible, then aborted or left behind.
	w, err := s.Create(ctx, "a/2026/pending.avro")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	if names, _ := s.List(ctx, "a/"); !slices.Equal(names, []string{"a/2026/x.avro", "a/2026/y.avro"}) {
		t.Errorf("List(a/) = %v while a write is open", names)
	}
	w.Abort()
	left, _ := s.Create(ctx, "a/2026/crashed.avro")
	io.WriteString(left, "lost")

	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/2026/x.avro", "a/2026/y.avro"}},
		{"a/2026/x", []string{"a/2026/x.avro"}},
		{"", []string{"a/2026/x.avro", "a/2026/y.avro", "b/z"}},
		{"c/", nil},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}

	write("a/2026/x.avro", "replaced")
	r, err := s.Open(ctx, "a/2026/x.avro")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r)
	r.Close()
	if string(body) != "replaced" {
		t.Errorf("read %q after replace", body)
	}

	n, err := RemoveUnfinished(s)
	if err != nil || n != 1 {
		t.Errorf("RemoveUnfinished = %d, %v; want the one crashed write", n, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "a", "2026"))
	if len(entries) != 2 {
		t.Errorf("folder holds %d entries after cleanup, want 2", len(entries))
	}
	if err := s.Delete(ctx, "b/z"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "b/z"); err != nil {
		t.Errorf("deleting a missing object: %v", err)
	}
}

// TestPublishFiles: the folder ends up with exactly the listed files,
// the staged files stay, and publishing again (a retried bundle) leaves
// the same folder; an unlisted staged file (a failed attempt's) is not
// published.
func TestPublishFiles(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, body string) {
		w, _ := s.Create(ctx, name)
		io.WriteString(w, body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	put("t/date=1/old-a", "old")
	put("stage/t/date=1/new-a", "a")
	put("stage/t/date=1/new-b", "b")
	put("stage/t/date=1/failed-attempt", "x")
	files := []string{"stage/t/date=1/new-a", "stage/t/date=1/new-b"}
	for range 2 {
		if err := PublishFiles(ctx, s, files, "t/date=1/"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.List(ctx, "t/"); !slices.Equal(got, []string{"t/date=1/new-a", "t/date=1/new-b"}) {
			t.Errorf("published %v, want the two listed files", got)
		}
	}
	r, err := s.Open(ctx, "t/date=1/new-b")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); string(b) != "b" {
		t.Errorf("published new-b holds %q", b)
	}
	r.Close()
	if got, _ := s.List(ctx, "stage/"); len(got) != 3 {
		t.Errorf("staging after publish: %v, want the three staged files kept", got)
	}
	if err := PublishFiles(ctx, s, nil, "t/date=1/"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx, "t/"); len(got) != 0 {
		t.Errorf("published nothing, folder holds %v", got)
	}
	// A partition that did not exist is created.
	if err := PublishFiles(ctx, s, files[:1], "t/date=2/"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.List(ctx, "t/"); !slices.Equal(got, []string{"t/date=2/new-a"}) {
		t.Errorf("new partition: %v", got)
	}
}
