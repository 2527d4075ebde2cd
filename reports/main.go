// Command reports is the advertisers' reporting API and dashboard over the
// Bigtable views the pipelines maintain. Run with -help for flags; every
// flag can also be set as ADCLICK_<FLAG_NAME>.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/adclick/adclick/reports/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.LookupEnv, os.Stderr, nil); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(1)
	}
}
