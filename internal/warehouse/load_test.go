package warehouse

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/adclick/adclick/internal/warehouse/bqtest"
)

func newLoader(t *testing.T) (*bqtest.Server, *Loader) {
	t.Helper()
	f := bqtest.Start(t)
	l, err := NewLoader(context.Background(), "p", "clicks_ds", option.WithEndpoint(f.Endpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return f, l
}

var get = bqtest.Get

// TestLoadJobContract checks the load-job request that replaces one
// partition: Parquet from the partition's files, into table$partition,
// truncating only it, into the existing table, with the table's
// partitioning and clustering, under a job id that names the run.
func TestLoadJobContract(t *testing.T) {
	tests := []struct {
		table, wantTableID, wantPartitionType string
		wantClustering                        []any
	}{
		{"ad_clicks_minute", "ad_clicks_minute$20261126", "DAY", []any{"advertiser_id", "ad_id"}},
		{"advertiser_clicks_day", "advertiser_clicks_day$20261126", "DAY", []any{"advertiser_id"}},
		{"ad_clicks_month", "ad_clicks_month$202611", "MONTH", []any{"advertiser_id", "ad_id"}},
		{"advertiser_clicks_year", "advertiser_clicks_year$2026", "YEAR", []any{"advertiser_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			f, l := newLoader(t)
			tbl, err := Lookup(tt.table)
			if err != nil {
				t.Fatal(err)
			}
			partition := tbl.PartitionOf(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
			uris := []string{"gs://out/" + tbl.PartFile(partition, "a"), "gs://out/" + tbl.PartFile(partition, "b")}
			if err := l.LoadPartition(context.Background(), tbl, partition, uris, "run1"); err != nil {
				t.Fatal(err)
			}
			ins := f.Inserts()
			if len(ins) != 1 {
				t.Fatalf("%d job inserts, want 1", len(ins))
			}
			job := ins[0]
			load := get(job, "configuration", "load")
			checks := []struct {
				name      string
				got, want any
			}{
				{"sourceFormat", get(load, "sourceFormat"), "PARQUET"},
				{"writeDisposition", get(load, "writeDisposition"), "WRITE_TRUNCATE"},
				{"createDisposition", get(load, "createDisposition"), "CREATE_NEVER"},
				{"destination project", get(load, "destinationTable", "projectId"), "p"},
				{"destination dataset", get(load, "destinationTable", "datasetId"), "clicks_ds"},
				{"destination table", get(load, "destinationTable", "tableId"), tt.wantTableID},
				{"partition type", get(load, "timePartitioning", "type"), tt.wantPartitionType},
				{"partition field", get(load, "timePartitioning", "field"), "date"},
				{"job id", get(job, "jobReference", "jobId"), LoadJobID(tbl, partition, "run1")},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if got, _ := get(load, "sourceUris").([]any); !slices.Equal(got, []any{uris[0], uris[1]}) {
				t.Errorf("sourceUris = %v, want %v", got, uris)
			}
			if got, _ := get(load, "clustering", "fields").([]any); !slices.Equal(got, tt.wantClustering) {
				t.Errorf("clustering = %v, want %v", got, tt.wantClustering)
			}
		})
	}
}

// TestEmptyPartitionIsDeleted: a day without rows deletes the partition
// rather than loading nothing (a load job needs files).
func TestEmptyPartitionIsDeleted(t *testing.T) {
	f, l := newLoader(t)
	tbl, _ := Lookup("ad_clicks_hour")
	if err := l.LoadPartition(context.Background(), tbl, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), nil, "run1"); err != nil {
		t.Fatal(err)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0].Method != http.MethodDelete || !strings.HasSuffix(calls[0].Path, "/datasets/clicks_ds/tables/ad_clicks_hour$20261126") {
		t.Errorf("calls = %+v, want one DELETE of the partition", calls)
	}
}

// TestEnsureTablesSendsSchema: every table is created with its columns,
// their descriptions, partitioning and clustering, as defined here once.
func TestEnsureTablesSendsSchema(t *testing.T) {
	f, l := newLoader(t)
	if err := l.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != len(Tables) {
		t.Fatalf("%d calls, want one per table (%d)", len(calls), len(Tables))
	}
	for i, tbl := range Tables {
		body := calls[i].Body
		if get(body, "tableReference", "tableId") != tbl.Name || get(body, "description") != tbl.Description {
			t.Errorf("table %d: %v", i, get(body, "tableReference"))
		}
		fields, _ := get(body, "schema", "fields").([]any)
		if len(fields) != len(tbl.Columns) {
			t.Fatalf("%s: %d fields, want %d", tbl.Name, len(fields), len(tbl.Columns))
		}
		for j, c := range tbl.Columns {
			if get(fields[j], "name") != c.Name || get(fields[j], "description") != c.Description || get(fields[j], "description") == "" {
				t.Errorf("%s field %d = %v, want %s with its description", tbl.Name, j, fields[j], c.Name)
			}
		}
		if get(body, "timePartitioning", "field") != "date" {
			t.Errorf("%s partitioning = %v", tbl.Name, get(body, "timePartitioning"))
		}
	}
}

// TestRetriedLoadFindsItsJob: a publication retried after its load job
// was accepted (the same run, so the same job id) waits for that job
// instead of failing on BigQuery's 409 or loading twice.
func TestRetriedLoadFindsItsJob(t *testing.T) {
	f, l := newLoader(t)
	tbl, _ := Lookup("ad_clicks_day")
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	uris := []string{"gs://out/" + tbl.PartFile(day, "a")}
	for i := range 2 {
		if err := l.LoadPartition(context.Background(), tbl, day, uris, "run1"); err != nil {
			t.Fatalf("load %d: %v", i+1, err)
		}
	}
	if n := len(f.Inserts()); n != 1 {
		t.Errorf("%d accepted load jobs, want 1", n)
	}
}
