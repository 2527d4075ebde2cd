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
	"syscall"

	"github.com/adclick/adclick/redirect/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args[1:], os.LookupEnv, os.Stderr, nil); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "redirect:", err)
		os.Exit(1)
	}
}
