// Package proc runs the local stack's services as child processes, as
// they run in production: each in its own process group (so Ctrl-C in a
// terminal reaches only the parent, which stops them in order), its output
// prefixed with its name, stoppable gracefully or killed like a crash.
package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child service. Start it again after it ended to restart it.
type Proc struct {
	Name string
	Path string
	Args []string
	Env  []string // added to this process's environment
	Out  io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// ended is the CPU time of the runs that ended.
	ended time.Duration
}

// Start runs the process.
func (p *Proc) Start() error {
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(p.Out, "%-9s| %s\n", p.Name, sc.Text())
		}
		cmd.Wait()
		p.mu.Lock()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.ended += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// Stop sends SIGTERM (a graceful drain) and SIGKILL after timeout.
func (p *Proc) Stop(timeout time.Duration) {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		killGroup(cmd)
		<-done
	}
}

// Kill is a crash: SIGKILL, nothing flushed. It returns once the process
// is gone.
func (p *Proc) Kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	killGroup(cmd)
	<-done
}

// killGroup kills the process and everything it started (Start puts it in
// a process group of its own), as a machine failure would: a child left
// alive would also hold the output pipe open, and Kill would wait for it.
func killGroup(cmd *exec.Cmd) {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		cmd.Process.Kill()
	}
}

// Exited is closed when the current run of the process ends.
func (p *Proc) Exited() <-chan struct{} {
	_, done := p.current()
	return done
}

// Alive reports whether the process is running.
func (p *Proc) Alive() bool {
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// CPU is the user and system time the process has used over all its
// runs: the ended runs' as wait reported it, the current run's as Linux's
// /proc reports it so far (0 where there is no /proc).
func (p *Proc) CPU() time.Duration {
	p.mu.Lock()
	cmd, done, ended := p.cmd, p.done, p.ended
	p.mu.Unlock()
	if cmd == nil {
		return ended
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.ended // the run ended meanwhile: counted there
	default:
	}
	return ended + procCPU(cmd.Process.Pid)
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every Linux ABI.
const clockTicks = 100

// procCPU is pid's user and system time from /proc/<pid>/stat (fields 14
// and 15, counted after the command name, which may hold spaces).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}
