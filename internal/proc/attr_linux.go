package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own and has Linux
// kill it when this process dies, however it dies: a harness killed
// before it could stop its services (a SIGKILL, a crashed bench) must not
// leave them holding the stack's ports. (Linux sends the signal when the
// thread that started the child ends; Go ends a thread only when a
// goroutine locked to it returns, which nothing in the harness does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
