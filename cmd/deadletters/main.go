// Command deadletters inspects and replays the messages the streaming job
// could not read (subscription clicks-dead-letter-hold):
//
//	deadletters list [-n 20]   print held dead letters with their reason, keep them
//	deadletters replay         republish every held dead letter to clicks, as first published
//
// It honours PUBSUB_EMULATOR_HOST like every other binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"cloud.google.com/go/pubsub/v2"

	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
	"github.com/adclick/adclick/pipelines/deadletter"
)

func main() {
	fs := flag.NewFlagSet("deadletters", flag.ExitOnError)
	project := fs.String("project", gcpnames.LocalProject, "project of the topics")
	n := fs.Int("n", 20, "list: how many to show")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deadletters list [-n N] | replay [-project P]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs.Parse(os.Args[2:])
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deadletters:", err)
		os.Exit(1)
	}
	defer c.Close()
	sub := localstack.SubscriptionName(*project, gcpnames.DeadLetterSubscription)
	switch cmd {
	case "list":
		got, err := deadletter.Inspect(ctx, c, sub, *n, os.Stdout)
		fmt.Printf("%d dead letters shown\n", got)
		exitOn(err)
	case "replay":
		moved, err := deadletter.Replay(ctx, c, sub, localstack.TopicName(*project, gcpnames.ClicksTopic))
		fmt.Printf("%d dead letters republished to %s\n", moved, gcpnames.ClicksTopic)
		exitOn(err)
	default:
		fmt.Fprintf(os.Stderr, "deadletters: unknown command %q: want list or replay\n", cmd)
		os.Exit(2)
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "deadletters:", err)
		os.Exit(1)
	}
}
