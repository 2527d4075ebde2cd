//go:build unix

package speed

import (
	"fmt"
	"syscall"
	"unsafe"
)

// mapIDs returns room for n keys in anonymous memory outside the Go heap,
// zeroed, whole pages (the slice's capacity covers them).
func mapIDs(n int) []uint64 {
	page := syscall.Getpagesize()
	size := (n*impKeyBytes + page - 1) / page * page
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// As the runtime does when the heap cannot grow: nothing to
		// fall back on, and state (the truth) is intact for a retry.
		panic(fmt.Sprintf("dedupe cache: map %d bytes: %v", size, err))
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), size/impKeyBytes)[:n]
}

// unmapIDs returns a run from mapIDs to the system.
func unmapIDs(ids []uint64) {
	if cap(ids) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ids[:1][0])), cap(ids)*impKeyBytes)
	if err := syscall.Munmap(b); err != nil {
		panic(fmt.Sprintf("dedupe cache: unmap %d bytes: %v", len(b), err))
	}
}
