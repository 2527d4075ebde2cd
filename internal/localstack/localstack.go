// Package localstack runs the emulated Google Cloud that `make run` and the
// end-to-end tests use: the Pub/Sub fake (pstest) and the Bigtable emulator
// (bttest), both real gRPC servers, with every topic, subscription and table
// of gcpnames and btschema created idempotently.
package localstack

import (
	"context"
	"fmt"
	"net"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
)

// Default addresses, the same ones the README documents.
const (
	DefaultPubSubAddr   = "127.0.0.1:8085"
	DefaultBigtableAddr = "127.0.0.1:8086"
)

// Stack is a running pair of emulators.
type Stack struct {
	PubSub       *pstest.Server
	Bigtable     *bttest.Server
	PubSubAddr   string
	BigtableAddr string
}

// Start runs both emulators. An address ending in ":0" picks a free port.
// bigtableOpts are more options for the Bigtable emulator's gRPC server
// (a bench counts the writes it is sent with an interceptor).
func Start(pubsubAddr, bigtableAddr string, bigtableOpts ...grpc.ServerOption) (*Stack, error) {
	// pstest panics when its port is taken; probe first for a clear error.
	if ln, err := net.Listen("tcp", pubsubAddr); err != nil {
		return nil, fmt.Errorf("pubsub emulator on %s: %w", pubsubAddr, err)
	} else {
		pubsubAddr = ln.Addr().String()
		ln.Close()
	}
	ps := pstest.NewServerWithAddress(pubsubAddr)
	bt, err := bttest.NewServer(bigtableAddr, append([]grpc.ServerOption{grpc.MaxRecvMsgSize(256 << 20)}, bigtableOpts...)...)
	if err != nil {
		ps.Close()
		return nil, fmt.Errorf("bigtable emulator on %s: %w", bigtableAddr, err)
	}
	return &Stack{PubSub: ps, Bigtable: bt, PubSubAddr: ps.Addr, BigtableAddr: bt.Addr}, nil
}

// Close stops both emulators; their data is gone.
func (s *Stack) Close() {
	s.PubSub.Close()
	s.Bigtable.Close()
}

// Subscriptions lists the subscriptions on the clicks topic.
var Subscriptions = []string{gcpnames.StreamingSubscription, gcpnames.ArchiveSubscription, gcpnames.TailSubscription}

// ArchiveFileBytes is the local archiver's file size (its -max-bytes):
// far below the managed subscription's 100 MB, because the archiver acks
// a file's messages only once the file is written, and the fake rescans
// every unacked message of every subscription each 10 ms under its one
// global lock, which every publish, pull and ack waits on. At 5,000
// clicks/s (about 400 bytes each) a file is two seconds of clicks; with
// 100 MB files a minute of clicks (300,000 messages) waited, and the
// fake's rescans took three quarters of the proof process's CPU at
// 3,000 clicks/s.
const ArchiveFileBytes = 4 << 20

// EnsurePubSub creates the topics and subscriptions on the emulator at addr.
func EnsurePubSub(ctx context.Context, addr, project string) error {
	return ensurePubSub(ctx, addr, project, true)
}

// EnsureTopics creates only the topics. Benchmarks of publishers use it:
// the fake rescans every unacked message of every subscription each 10 ms
// under its global lock, so undrained subscriptions measure the fake.
func EnsureTopics(ctx context.Context, addr, project string) error {
	return ensurePubSub(ctx, addr, project, false)
}

func ensurePubSub(ctx context.Context, addr, project string, withSubs bool) error {
	c, err := pubsub.NewClient(ctx, project, EmulatorOptions(addr)...)
	if err != nil {
		return fmt.Errorf("pubsub client for %s: %w", addr, err)
	}
	defer c.Close()
	for _, t := range []string{gcpnames.ClicksTopic, gcpnames.DeadLetterTopic} {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{
			Name:                     TopicName(project, t),
			MessageRetentionDuration: durationpb.New(7 * 24 * time.Hour),
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	if !withSubs {
		return nil
	}
	subs := map[string]string{gcpnames.DeadLetterSubscription: gcpnames.DeadLetterTopic}
	for _, s := range Subscriptions {
		subs[s] = gcpnames.ClicksTopic
	}
	for sub, topic := range subs {
		if err := createSubscription(ctx, c, project, sub, topic); err != nil {
			return err
		}
	}
	return nil
}

// EnsureSubscription creates subscription sub of topic, as EnsurePubSub
// would, for benchmarks that read one subscription and must not leave
// others undrained.
func EnsureSubscription(ctx context.Context, addr, project, sub, topic string) error {
	c, err := pubsub.NewClient(ctx, project, EmulatorOptions(addr)...)
	if err != nil {
		return fmt.Errorf("pubsub client for %s: %w", addr, err)
	}
	defer c.Close()
	return createSubscription(ctx, c, project, sub, topic)
}

// AckDeadline is a subscription's ack deadline: 60 s. The archiver holds
// messages until their file is written, up to rawarchive.MaxDuration, and
// renews their leases meanwhile.
func AckDeadline(string) time.Duration { return 60 * time.Second }

func createSubscription(ctx context.Context, c *pubsub.Client, project, sub, topic string) error {
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:                     SubscriptionName(project, sub),
		Topic:                    TopicName(project, topic),
		AckDeadlineSeconds:       int32(AckDeadline(sub) / time.Second),
		MessageRetentionDuration: durationpb.New(7 * 24 * time.Hour),
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create subscription %s: %w", sub, err)
	}
	return nil
}

// EnsureBigtable creates the serving tables on the emulator at addr.
func EnsureBigtable(ctx context.Context, addr, project string) error {
	admin, err := bigtable.NewAdminClient(ctx, project, gcpnames.BigtableInstance, EmulatorOptions(addr)...)
	if err != nil {
		return fmt.Errorf("bigtable admin for %s: %w", addr, err)
	}
	defer admin.Close()
	return btschema.EnsureTables(ctx, admin)
}

// EmulatorOptions are client options for an emulator at addr, for code that
// does not go through the *_EMULATOR_HOST variables (tests, mainly).
func EmulatorOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// TopicName is projects/<p>/topics/<t>.
func TopicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

// SubscriptionName is projects/<p>/subscriptions/<s>.
func SubscriptionName(project, sub string) string {
	return "projects/" + project + "/subscriptions/" + sub
}

// Pull synchronously pulls up to max messages from sub and acknowledges
// them. Synchronous Pull, not Receive: the fake's StreamingPull delivers
// only tens of messages a second.
func Pull(ctx context.Context, c *pubsub.Client, project, sub string, max int) ([]*pubsubpb.PubsubMessage, error) {
	resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
		Subscription: SubscriptionName(project, sub), MaxMessages: int32(max),
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", sub, err)
	}
	if len(resp.ReceivedMessages) == 0 {
		return nil, nil
	}
	ids := make([]string, len(resp.ReceivedMessages))
	msgs := make([]*pubsubpb.PubsubMessage, len(resp.ReceivedMessages))
	for i, m := range resp.ReceivedMessages {
		ids[i], msgs[i] = m.AckId, m.Message
	}
	if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{
		Subscription: SubscriptionName(project, sub), AckIds: ids,
	}); err != nil {
		return nil, fmt.Errorf("ack %s: %w", sub, err)
	}
	return msgs, nil
}

// CreateTableWithoutGC creates the clicks table with its families but no
// garbage-collection rules. The emulator applies GC rules by scanning the
// whole table under its lock about every second, which with millions of
// cells blocks every read for most of that second; Bigtable itself
// collects in the background. Benchmarks use it: without rules they
// measure the code and the emulator's reads, not the emulator's GC.
func CreateTableWithoutGC(ctx context.Context, addr string) error {
	admin, err := bigtable.NewAdminClient(ctx, gcpnames.LocalProject, gcpnames.BigtableInstance, EmulatorOptions(addr)...)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.CreateTable(ctx, btschema.Table); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	for fam := range btschema.Families() {
		if err := admin.CreateColumnFamily(ctx, btschema.Table, fam); err != nil {
			return fmt.Errorf("create family %s: %w", fam, err)
		}
	}
	return nil
}
