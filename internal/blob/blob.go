// Package blob is the little of Cloud Storage the pipelines need, with a
// local folder standing in for a bucket: list by prefix, read, write an
// object that appears whole or not at all, delete.
//
// Locations are gs://bucket/prefix or a local path. Object names are
// slash-separated and relative to the location, on both.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"cloud.google.com/go/storage"
	"golang.org/x/sys/unix"
	"google.golang.org/api/iterator"
)

// Store is a bucket, or a folder standing in for one.
type Store interface {
	// List returns the names of the objects under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Open reads object name.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Create writes object name. It becomes visible, replacing any object
	// of that name, only when Close succeeds; until then readers see the
	// old one or none. Abort discards it.
	Create(ctx context.Context, name string) (Writer, error)
	// Delete removes object name; a missing one is not an error.
	Delete(ctx context.Context, name string) error
	// URL is the location of object name, as gs:// or a file path.
	URL(name string) string
	Close() error
}

// Writer is an object being written.
type Writer interface {
	io.Writer
	Close() error
	Abort()
}

// Open opens a location: gs://bucket[/prefix] or a local folder (created
// if missing).
func Open(ctx context.Context, loc string) (Store, error) {
	if rest, ok := strings.CutPrefix(loc, "gs://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("blob location %q: want gs://bucket[/prefix]", loc)
		}
		c, err := storage.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("cloud storage client for %s: %w", loc, err)
		}
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		return &gcs{client: c, bucket: c.Bucket(bucket), name: bucket, prefix: prefix}, nil
	}
	if err := os.MkdirAll(loc, 0o755); err != nil {
		return nil, fmt.Errorf("blob folder %s: %w", loc, err)
	}
	return &local{root: loc}, nil
}

// RemoveUnfinished deletes the temporary files of writes that never
// closed (a crash) and returns how many. Cloud Storage keeps no such
// files, so it is a no-op there.
func RemoveUnfinished(s Store) (int, error) {
	l, ok := s.(*local)
	if !ok {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.HasSuffix(d.Name(), ".tmp") {
			n++
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("remove unfinished files under %s: %w", l.root, err)
	}
	return n, nil
}

// PublishFiles makes folder dst (ending in "/") hold exactly copies of
// files, each under its base name, and leaves files where they are: run
// again with the same files, it leaves the same folder, so a retried
// publication cannot empty a partition the way moving the files would.
// On a local folder the new set is built beside dst and swapped in whole
// (ReplaceDir); on Cloud Storage the files are copied in and the others
// deleted.
func PublishFiles(ctx context.Context, s Store, files []string, dst string) error {
	if l, ok := s.(*local); ok {
		return l.publishFiles(files, dst)
	}
	old, err := s.List(ctx, dst)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, name := range files {
		target := dst + path.Base(name)
		if err := copyObject(ctx, s, name, target); err != nil {
			return err
		}
		kept[target] = true
	}
	for _, name := range old {
		if !kept[name] {
			if err := s.Delete(ctx, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *local) publishFiles(files []string, dst string) error {
	clean := strings.TrimSuffix(dst, "/")
	if err := os.MkdirAll(l.path(path.Dir(clean)), 0o755); err != nil {
		return fmt.Errorf("publish %s: %w", dst, err)
	}
	// A folder of its own per call, so overlapping runs never share one.
	tmp, err := os.MkdirTemp(l.path(path.Dir(clean)), "."+path.Base(clean)+".next-")
	if err != nil {
		return fmt.Errorf("publish %s: %w", dst, err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range files {
		// A hard link is a copy that costs nothing: staged files are never
		// written again once closed.
		if err := os.Link(l.path(name), filepath.Join(tmp, path.Base(name))); err != nil {
			return fmt.Errorf("publish %s: %w", dst, err)
		}
	}
	return l.replaceDir(path.Join(path.Dir(clean), filepath.Base(tmp))+"/", dst)
}

// DeletePrefix removes every object under prefix (a folder, ending in
// "/"), and on a local folder the folder itself.
func DeletePrefix(ctx context.Context, s Store, prefix string) error {
	if l, ok := s.(*local); ok {
		if err := os.RemoveAll(l.path(prefix)); err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
		return nil
	}
	names, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := s.Delete(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func copyObject(ctx context.Context, s Store, from, to string) error {
	r, err := s.Open(ctx, from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := s.Create(ctx, to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return w.Close()
}

// replaceDir makes folder dst the folder src (both names end in "/") and
// removes the old one: one renameat2(RENAME_EXCHANGE) where the kernel
// can, so readers see the old set or the new one, never a mix and never
// nothing; else the old folder is moved aside first.
func (l *local) replaceDir(src, dst string) error {
	from, to := l.path(src), l.path(dst)
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(from, 0o755); err != nil {
			return fmt.Errorf("replace %s: %w", dst, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(to)), 0o755); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	// Swap the two folders in one step where the kernel can, so the
	// partition is never missing either; else move the old one aside first.
	if _, err := os.Stat(to); err == nil {
		if err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_EXCHANGE); err == nil {
			if err := syncDir(filepath.Dir(filepath.Clean(to))); err != nil {
				return fmt.Errorf("replace %s: %w", dst, err)
			}
			return os.RemoveAll(from)
		}
	}
	trash := filepath.Join(filepath.Dir(filepath.Clean(to)), "."+filepath.Base(filepath.Clean(to))+".old")
	os.RemoveAll(trash)
	if err := os.Rename(to, trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := os.Rename(from, to); err != nil {
		os.Rename(trash, to)
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	if err := syncDir(filepath.Dir(filepath.Clean(to))); err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	return os.RemoveAll(trash)
}

type local struct{ root string }

func (l *local) path(name string) string { return filepath.Join(l.root, filepath.FromSlash(name)) }

func (l *local) URL(name string) string { return l.path(name) }

func (l *local) Close() error { return nil }

// List walks the folder. Files whose name starts with "." are objects
// being written and are skipped, as Cloud Storage lists no unfinished
// uploads.
func (l *local) List(ctx context.Context, prefix string) ([]string, error) {
	// Walk only the deepest folder the prefix names.
	dir := prefix[:strings.LastIndex(prefix, "/")+1]
	var names []string
	err := filepath.WalkDir(l.path(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		if name := filepath.ToSlash(rel); strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list %s under %s: %w", prefix, l.root, err)
	}
	sort.Strings(names)
	return names, nil
}

func (l *local) Open(_ context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(l.path(name))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, nil
}

func (l *local) Delete(_ context.Context, name string) error {
	if err := os.Remove(l.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Create writes a hidden temporary file beside the target and renames it
// into place on Close, after an fsync of the file and of its folder: the
// object is then durable and whole.
func (l *local) Create(_ context.Context, name string) (Writer, error) {
	target := l.path(name)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &localWriter{f: f, target: target}, nil
}

type localWriter struct {
	f      *os.File
	target string
}

func (w *localWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *localWriter) Close() error {
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.target)
	}
	if err == nil {
		err = syncDir(filepath.Dir(w.target))
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("write %s: %w", w.target, err)
	}
	return nil
}

func (w *localWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type gcs struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string
	prefix string
}

func (g *gcs) URL(name string) string { return "gs://" + g.name + "/" + g.prefix + name }

func (g *gcs) Close() error { return g.client.Close() }

func (g *gcs) List(ctx context.Context, prefix string) ([]string, error) {
	it := g.bucket.Objects(ctx, &storage.Query{Prefix: g.prefix + prefix})
	var names []string
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", g.URL(prefix), err)
		}
		names = append(names, strings.TrimPrefix(attrs.Name, g.prefix))
	}
	sort.Strings(names)
	return names, nil
}

func (g *gcs) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := g.bucket.Object(g.prefix + name).NewReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", g.URL(name), err)
	}
	return r, nil
}

func (g *gcs) Delete(ctx context.Context, name string) error {
	err := g.bucket.Object(g.prefix + name).Delete(ctx)
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("delete %s: %w", g.URL(name), err)
	}
	return nil
}

// Create uploads; Cloud Storage makes the object visible only when the
// upload completes, so an aborted one leaves nothing.
func (g *gcs) Create(ctx context.Context, name string) (Writer, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &gcsWriter{w: g.bucket.Object(g.prefix + name).NewWriter(ctx), cancel: cancel, url: g.URL(name)}, nil
}

type gcsWriter struct {
	w      *storage.Writer
	cancel context.CancelFunc
	url    string
}

func (w *gcsWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *gcsWriter) Close() error {
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", w.url, err)
	}
	return nil
}

func (w *gcsWriter) Abort() { w.cancel(); w.w.Close() }
