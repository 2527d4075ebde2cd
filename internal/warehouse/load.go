package warehouse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// Loader loads partitions into the BigQuery dataset.
type Loader struct {
	client  *bigquery.Client
	dataset string
}

// NewLoader connects to dataset in project.
func NewLoader(ctx context.Context, project, dataset string, opts ...option.ClientOption) (*Loader, error) {
	c, err := bigquery.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client for %s: %w", project, err)
	}
	return &Loader{client: c, dataset: dataset}, nil
}

func (l *Loader) Close() error { return l.client.Close() }

// LoadPartition replaces one partition of t with the Parquet files at
// uris: a load job into table$partition that truncates exactly that
// partition, so a rerun leaves the same rows. runID names the job, so a
// retried publication finds its job instead of loading twice. With no files
// the partition is deleted: the day has no rows.
func (l *Loader) LoadPartition(ctx context.Context, t Table, partition time.Time, uris []string, runID string) error {
	table := l.client.Dataset(l.dataset).Table(t.Decorator(partition))
	if len(uris) == 0 {
		if err := table.Delete(ctx); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete empty partition %s: %w", t.Decorator(partition), err)
		}
		return nil
	}
	ref := bigquery.NewGCSReference(uris...)
	ref.SourceFormat = bigquery.Parquet
	loader := table.LoaderFrom(ref)
	loader.WriteDisposition = bigquery.WriteTruncate
	loader.CreateDisposition = bigquery.CreateNever
	loader.TimePartitioning = t.Partitioning()
	loader.Clustering = &bigquery.Clustering{Fields: t.Clustering}
	loader.JobIDConfig = bigquery.JobIDConfig{JobID: LoadJobID(t, partition, runID)}
	loader.Labels = map[string]string{"app": "adclick", "table": t.Name}
	job, err := loader.Run(ctx)
	if isConflict(err) {
		// A retried publication: this run's job exists already; wait for it
		// rather than loading twice.
		job, err = l.client.JobFromID(ctx, loader.JobIDConfig.JobID)
	}
	if err != nil {
		return fmt.Errorf("start load of %s: %w", t.Decorator(partition), err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return fmt.Errorf("wait for load of %s (job %s): %w", t.Decorator(partition), job.ID(), err)
	}
	if err := status.Err(); err != nil {
		return fmt.Errorf("load %s (job %s): %w", t.Decorator(partition), job.ID(), err)
	}
	return nil
}

// LoadJobID is the load job's id: table, partition and run.
func LoadJobID(t Table, partition time.Time, runID string) string {
	return "adclick_" + t.Name + "_" + strings.ReplaceAll(t.Decorator(partition)[len(t.Name)+1:], "$", "") + "_" + runID
}

// EnsureTables creates missing tables with their schema, descriptions,
// partitioning and clustering. Production tables come from Terraform;
// this is for new datasets and tests.
func (l *Loader) EnsureTables(ctx context.Context) error {
	for _, t := range Tables {
		meta := &bigquery.TableMetadata{
			Description:      t.Description,
			Schema:           t.Schema(),
			TimePartitioning: t.Partitioning(),
			Clustering:       &bigquery.Clustering{Fields: t.Clustering},
		}
		err := l.client.Dataset(l.dataset).Table(t.Name).Create(ctx, meta)
		var gerr *googleapi.Error
		if err != nil && !(errors.As(err, &gerr) && gerr.Code == http.StatusConflict) {
			return fmt.Errorf("create table %s: %w", t.Name, err)
		}
	}
	return nil
}

func isConflict(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusConflict
}

func isNotFound(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusNotFound
}
