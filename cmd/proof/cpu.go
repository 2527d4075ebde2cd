package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/adclick/adclick/internal/proc"
)

// cpuSample is the CPU time each process of the stack had used at a
// moment: the services, this process (the load generator, both emulators
// and the fault proxies) and its waited-for children (the nightly runs).
type cpuSample struct {
	at       time.Time
	services []time.Duration // in cpuServices order
	self     time.Duration
	children time.Duration
}

func (s *stack) cpuServices() []*proc.Proc {
	return []*proc.Proc{s.redirect, s.streaming, s.archiver, s.reports}
}

func (s *stack) sampleCPU() cpuSample {
	c := cpuSample{at: time.Now()}
	for _, p := range s.cpuServices() {
		c.services = append(c.services, p.CPU())
	}
	c.self = rusage(syscall.RUSAGE_SELF)
	c.children = rusage(syscall.RUSAGE_CHILDREN)
	return c
}

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerClick says how much CPU each process used per redirected click
// between two samples, and how many cores all of them kept busy: where
// the machine's capacity went at the proof's rate.
func (s *stack) cpuPerClick(from, to cpuSample, clicks int) string {
	if clicks == 0 {
		return "no click redirected"
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(clicks) }
	var b strings.Builder
	var total time.Duration
	for i, p := range s.cpuServices() {
		d := to.services[i] - from.services[i]
		total += d
		fmt.Fprintf(&b, "%s %.0f µs, ", p.Name, per(d))
	}
	self, children := to.self-from.self, to.children-from.children
	total += self + children
	fmt.Fprintf(&b, "proof process (load generator, Pub/Sub and Bigtable emulators, fault proxies) %.0f µs, nightly runs %.0f µs; all %.0f µs: %.2f cores busy",
		per(self), per(children), per(total), total.Seconds()/to.at.Sub(from.at).Seconds())
	return b.String()
}

// profileService takes a CPU profile of a service through its admin
// listener's pprof (the service runs with -pprof) and writes it to file.
func profileService(ctx context.Context, admin string, d time.Duration, file string) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds())), nil)
	if err != nil {
		return fmt.Errorf("profile request to %s: %w", admin, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile from %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile from %s: %s", admin, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("profile file: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile from %s into %s: %w", admin, file, err)
	}
	return f.Close()
}
