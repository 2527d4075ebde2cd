//go:build !unix

package speed

import "github.com/adclick/adclick/internal/countable"

// Without mmap the runs live on the Go heap.
func mapIDs(n int) []countable.ID { return make([]countable.ID, n) }

func unmapIDs([]countable.ID) {}
