package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
)

// measureHistory shows that reconciling a day costs the same whatever
// history the clicks table holds: for each history length, a fresh
// Bigtable emulator gets that many days of speed cells (every ad, a cell
// every interval minutes) ending with the reconciled day, and the batch
// job reconciles that day against it. It prints the times and their
// ratio to the first.
func measureHistory(histories []int, n, ads int, interval time.Duration, dir, binDir string) error {
	archive := filepath.Join(dir, fmt.Sprintf("batchbench-%d", n))
	if _, err := os.Stat(filepath.Join(archive, "complete")); err != nil {
		os.RemoveAll(archive)
		if err := generate(archive, n, 0); err != nil {
			return err
		}
	}
	var first time.Duration
	for _, days := range histories {
		took, cells, err := reconcileWithHistory(archive, days, ads, interval, dir, binDir)
		if err != nil {
			return err
		}
		if first == 0 {
			first = took
		}
		fmt.Printf("reconcile 1 day of %d clicks against %d days of speed history (%d speed cells): %.1f s, %.2f× the first\n",
			n, days, cells, took.Seconds(), took.Seconds()/first.Seconds())
	}
	return nil
}

func reconcileWithHistory(archive string, days, ads int, interval time.Duration, dir, binDir string) (time.Duration, int, error) {
	stack, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer stack.Close()
	ctx := context.Background()
	// The clients here and in the job find this emulator through it.
	os.Setenv("BIGTABLE_EMULATOR_HOST", stack.BigtableAddr)
	if err := localstack.CreateTableWithoutGC(ctx, stack.BigtableAddr); err != nil {
		return 0, 0, err
	}
	client, err := bigtable.NewClient(ctx, gcpnames.LocalProject, gcpnames.BigtableInstance)
	if err != nil {
		return 0, 0, err
	}
	defer client.Close()
	tbl := client.Open(btschema.Table)
	cells := 0
	for d := range days {
		start := day.AddDate(0, 0, -d)
		var b btschema.Batch
		for a := range ads {
			ad, adv := "ad"+strconv.Itoa(a), "adv"+strconv.Itoa(a/10)
			btschema.SetActive(&b, adv, ad, start)
			for m := start; m.Before(start.AddDate(0, 0, 1)); m = m.Add(interval) {
				btschema.SetSpeedMinute(&b, adv, ad, m, 1)
				cells++
			}
		}
		if err := b.Apply(ctx, tbl); err != nil {
			return 0, 0, fmt.Errorf("load speed history: %w", err)
		}
	}
	// The emulator lives in this process: collect the load's garbage
	// before the job competes with it for the two cores.
	runtime.GC()
	debug.FreeOSMemory()
	out, err := os.MkdirTemp(dir, "batchbench-out-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(out)
	job := exec.Command(filepath.Join(binDir, "batch"), "--runner=prism", "--date="+day.Format(time.DateOnly),
		"--archive="+archive, "--output="+out, "--project="+gcpnames.LocalProject, "--bigtable_instance="+gcpnames.BigtableInstance)
	job.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	r, err := timed(job)
	return r.wall, cells, err
}
