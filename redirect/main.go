// Command redirect is the click service: it verifies signed impression
// tokens, publishes each click to Pub/Sub (or its durable spool) and
// redirects the user to the ad's landing page. Run with -help for flags;
// every flag can also be set as ADCLICK_<FLAG_NAME>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/adclick/adclick/redirect/app"
)

func main() {
	// The service's live heap is a few tens of megabytes while it allocates
	// per click; collecting less often buys throughput for little memory.
	// GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// A full disk (or a file-size limit) must fail the spool's write, which
	// the service answers 503 and recovers from, not kill the process.
	signal.Ignore(syscall.SIGXFSZ)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.LookupEnv, os.Stderr, nil); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "redirect:", err)
		os.Exit(1)
	}
}
