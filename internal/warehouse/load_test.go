package warehouse

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"
)

// fakeBigQuery records the REST calls the client makes and answers as
// BigQuery would: jobs finish at once, tables are created.
type fakeBigQuery struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	method, path string
	body         map[string]any
}

func (f *fakeBigQuery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.calls = append(f.calls, call{r.Method, r.URL.Path, body})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs"):
		body["status"] = map[string]any{"state": "DONE"}
		json.NewEncoder(w).Encode(body)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/jobs/"):
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		json.NewEncoder(w).Encode(map[string]any{"jobReference": map[string]any{"projectId": "p", "jobId": id}, "status": map[string]any{"state": "DONE"}})
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tables"):
		json.NewEncoder(w).Encode(body)
	default:
		http.Error(w, `{"error":{"code":404,"message":"not here"}}`, http.StatusNotFound)
	}
}

func (f *fakeBigQuery) loader(t *testing.T) *Loader {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	l, err := NewLoader(context.Background(), "p", "clicks_ds", option.WithEndpoint(srv.URL+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (f *fakeBigQuery) inserts() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, c := range f.calls {
		if c.method == http.MethodPost && strings.HasSuffix(c.path, "/projects/p/jobs") {
			out = append(out, c.body)
		}
	}
	return out
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

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
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			f := &fakeBigQuery{}
			l := f.loader(t)
			tbl, err := Lookup(tt.table)
			if err != nil {
				t.Fatal(err)
			}
			partition := tbl.PartitionOf(time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC))
			uris := []string{"gs://out/" + tbl.PartFile(partition, "a"), "gs://out/" + tbl.PartFile(partition, "b")}
			if err := l.LoadPartition(context.Background(), tbl, partition, uris, "run1"); err != nil {
				t.Fatal(err)
			}
			ins := f.inserts()
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
	f := &fakeBigQuery{}
	l := f.loader(t)
	tbl, _ := Lookup("ad_clicks_hour")
	if err := l.LoadPartition(context.Background(), tbl, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), nil, "run1"); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0].method != http.MethodDelete || !strings.HasSuffix(f.calls[0].path, "/datasets/clicks_ds/tables/ad_clicks_hour$20261126") {
		t.Errorf("calls = %+v, want one DELETE of the partition", f.calls)
	}
}

// TestEnsureTablesSendsSchema: every table is created with its columns,
// their descriptions, partitioning and clustering, as defined here once.
func TestEnsureTablesSendsSchema(t *testing.T) {
	f := &fakeBigQuery{}
	l := f.loader(t)
	if err := l.EnsureTables(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != len(Tables) {
		t.Fatalf("%d calls, want one per table (%d)", len(f.calls), len(Tables))
	}
	for i, tbl := range Tables {
		body := f.calls[i].body
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
