//go:build !unix

package speed

// Without mmap the runs live on the Go heap.
func mapIDs(n int) []uint64 { return make([]uint64, n) }

func unmapIDs([]uint64) {}
