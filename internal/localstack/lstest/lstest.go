// Package lstest starts the local emulators for a test: both servers on free
// ports, every topic, subscription and table created, and the standard
// PUBSUB_EMULATOR_HOST / BIGTABLE_EMULATOR_HOST variables pointing at them
// for the test's duration, so code under test finds them as it would in
// any deployment.
package lstest

import (
	"context"
	"testing"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
	"github.com/adclick/adclick/internal/localstack"
)

// Start runs the emulators until the test ends. Tests using it cannot run
// in parallel (t.Setenv).
func Start(t testing.TB) *localstack.Stack {
	t.Helper()
	st, err := localstack.Start("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx := context.Background()
	if err := localstack.EnsurePubSub(ctx, st.PubSubAddr, gcpnames.LocalProject); err != nil {
		t.Fatal(err)
	}
	if err := localstack.EnsureBigtable(ctx, st.BigtableAddr, gcpnames.LocalProject); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PUBSUB_EMULATOR_HOST", st.PubSubAddr)
	t.Setenv("BIGTABLE_EMULATOR_HOST", st.BigtableAddr)
	return st
}

// KeepSpeedCells drops the speed family's age rule in the emulator's
// clicks table, for fixtures dated at a fixed day: the emulator collects
// cells older than btschema.SpeedRetention by the real clock, at moments
// of its own, so such a fixture would lose cells in the middle of a test
// (and every one of them once the fixed day is three months old).
func KeepSpeedCells(t testing.TB, project string) {
	t.Helper()
	ctx := context.Background()
	admin, err := bigtable.NewAdminClient(ctx, project, gcpnames.BigtableInstance)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.SetGCPolicy(ctx, btschema.Table, btschema.FamilySpeed, bigtable.MaxVersionsPolicy(1)); err != nil {
		t.Fatal(err)
	}
}
