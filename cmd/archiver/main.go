// Command archiver is the local stand-in for the Pub/Sub Cloud Storage
// subscription that archives every click in production (see
// internal/archiver and internal/rawarchive for the contract it keeps).
// `make run` starts it; the nightly batch reads what it writes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/adclick/adclick/internal/archiver"
	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/envflag"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/internal/obs"
)

func main() {
	fs := flag.NewFlagSet("archiver", flag.ContinueOnError)
	project := fs.String("project", gcpnames.LocalProject, "project of the archive subscription")
	sub := fs.String("subscription", gcpnames.ArchiveSubscription, "subscription to archive")
	archive := fs.String("archive", ".run/archive", "raw bucket stand-in: a folder, or gs://bucket[/prefix]")
	maxDuration := fs.Duration("max-duration", time.Minute, "start a new file after this long (1m-10m, as the managed subscription's max_duration)")
	maxBytes := fs.Int64("max-bytes", 100<<20, "start a new file after this many message bytes (at least 1024, as max_bytes)")
	envflag.DocumentEnv(fs, "ADCLICK_ARCHIVER")
	if err := envflag.Parse(fs, "ADCLICK_ARCHIVER", os.Args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "archiver:", err)
		os.Exit(2)
	}
	log, err := obs.NewLogger(os.Stderr, "info", "archiver")
	if err != nil {
		fmt.Fprintln(os.Stderr, "archiver:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *project, *sub, *archive, *maxDuration, *maxBytes); err != nil {
		log.Error("archiver stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, project, sub, archive string, maxDuration time.Duration, maxBytes int64) error {
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return fmt.Errorf("pubsub client for %s: %w", project, err)
	}
	defer ps.Close()
	store, err := blob.Open(ctx, archive)
	if err != nil {
		return err
	}
	defer store.Close()
	if n, err := blob.RemoveUnfinished(store); err != nil {
		return err
	} else if n > 0 {
		log.Warn("removed unfinished archive files of an earlier run; their messages were not acknowledged and will be archived again", "files", n)
	}
	a, err := archiver.New(archiver.Config{
		Subscription: localstack.SubscriptionName(project, sub), MaxDuration: maxDuration, MaxBytes: maxBytes,
	}, ps, store, log)
	if err != nil {
		return err
	}
	log.Info("archiving", "subscription", sub, "archive", archive, "max_duration", maxDuration, "max_bytes", maxBytes)
	return a.Run(ctx)
}
