//go:build !linux

package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own (elsewhere than
// Linux a child outlives a parent that is killed).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
