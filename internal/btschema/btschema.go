// Package btschema owns the Bigtable layout shared by the pipelines and the
// reports: table names, column families and their garbage-collection rules.
package btschema

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigtable"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Table is the serving table of click counts.
const Table = "clicks"

// Column families: speed-layer counts (provisional) and batch-layer counts
// (final) live side by side so a reader can tell them apart.
const (
	FamilySpeed = "s"
	FamilyBatch = "b"
)

// Families maps each family to its garbage-collection rule. Both keep one
// version: the cell timestamp carries the count itself, so the newest
// version is the largest count (see docs/bigtable-schema.md).
func Families() map[string]bigtable.GCPolicy {
	return map[string]bigtable.GCPolicy{
		FamilySpeed: bigtable.UnionPolicy(bigtable.MaxVersionsPolicy(1), bigtable.MaxAgePolicy(400*24*time.Hour)),
		FamilyBatch: bigtable.MaxVersionsPolicy(1),
	}
}

// EnsureTables creates the tables and families if missing. Production
// tables are created by Terraform; this is for emulators and tests.
func EnsureTables(ctx context.Context, admin *bigtable.AdminClient) error {
	if err := admin.CreateTable(ctx, Table); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("create table %s: %w", Table, err)
	}
	info, err := admin.TableInfo(ctx, Table)
	if err != nil {
		return fmt.Errorf("describe table %s: %w", Table, err)
	}
	have := map[string]bool{}
	for _, f := range info.Families {
		have[f] = true
	}
	for fam, policy := range Families() {
		if !have[fam] {
			if err := admin.CreateColumnFamily(ctx, Table, fam); err != nil && status.Code(err) != codes.AlreadyExists {
				return fmt.Errorf("create family %s:%s: %w", Table, fam, err)
			}
		}
		if err := admin.SetGCPolicy(ctx, Table, fam, policy); err != nil {
			return fmt.Errorf("set gc policy %s:%s: %w", Table, fam, err)
		}
	}
	return nil
}
