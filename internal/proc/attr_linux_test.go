package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// parentEnv makes the test binary the parent of TestChildDiesWithParent.
const parentEnv = "PROC_TEST_PARENT"

// TestChildDiesWithParent: a service started by a harness that is then
// killed (SIGKILL: no chance to stop it) does not outlive it.
func TestChildDiesWithParent(t *testing.T) {
	if os.Getenv(parentEnv) != "" {
		runParent()
		return
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithParent$")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the parent said no child pid: %v", err)
	}
	child, err := strconv.Atoi(line[:len(line)-1])
	if err != nil || !running(child) {
		t.Fatalf("child %q not running: %v", line, err)
	}
	parent.Process.Kill()
	parent.Wait()
	go io.Copy(io.Discard, out)
	for deadline := time.Now().Add(10 * time.Second); running(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d still running 10 s after its parent was killed", child)
		}
	}
}

// runParent starts a child that would run for ten minutes, prints its pid
// and waits to be killed.
func runParent() {
	p := &Proc{Name: "sleep", Path: "/bin/sleep", Args: []string{"600"}, Out: io.Discard}
	if err := p.Start(); err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	cmd, _ := p.current()
	fmt.Println(cmd.Process.Pid)
	time.Sleep(time.Hour)
}

// running reports whether pid runs: it exists and is not a zombie
// waiting for whoever inherited it to reap it.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
