// Command duckbench is batchbench's anchor: the nightly's exact
// aggregation of one day, done by DuckDB over the same click events as
// NDJSON (one event a line, as batchbench extracts them from the
// archive). It applies the same rules as the nightly (internal/countable,
// restated in SQL): re-deliveries of a click id collapse; clicks that are
// invalid, expired, bots, from a data centre or too fast never count; the
// first countable click of an impression (by time, then click id) counts
// unless it is a burst (the BurstClicks-th or later of one user's first
// clicks on one ad within BurstWindow); only clicks of the day are
// counted. It builds what the nightly writes: minute, hour and day counts
// per ad, campaign and advertiser, outcomes and placements per ad and
// day. It prints the counted clicks and the time the SQL took (reading
// the NDJSON included).
//
// It is its own Go module so that the product's go.mod, go vet ./... and
// CI never carry DuckDB (cgo, a large static library); `make bench`
// builds it.
//
//	duckbench -events=events.ndjson -day=2026-11-26 -threads=2
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/marcboeker/go-duckdb"
)

func main() {
	events := flag.String("events", "", "NDJSON of click events")
	dayFlag := flag.String("day", "", "the UTC day to count (YYYY-MM-DD)")
	threads := flag.Int("threads", 2, "DuckDB threads")
	flag.Parse()
	day, err := time.Parse(time.DateOnly, *dayFlag)
	if err != nil || *events == "" {
		fmt.Fprintln(os.Stderr, "duckbench: want -events and -day (YYYY-MM-DD)")
		os.Exit(2)
	}
	if err := run(*events, day, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "duckbench:", err)
		os.Exit(1)
	}
}

// The rules' defaults (countable.DefaultRules and its constants), in
// nanoseconds: the times are compared as the nightly compares them.
const (
	clockSkew        = "300000000000"
	maxTokenLifetime = "7200000000000"
	minClickDelay    = "1000000000"
	burstClicks      = 5
	burstWindowMs    = 10 * 60 * 1000
)

func run(events string, day time.Time, threads int) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: the temp tables live in it
	if _, err := db.Exec(fmt.Sprintf("SET threads TO %d", threads)); err != nil {
		return err
	}
	lo, hi := day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli()
	steps := []string{
		`CREATE TEMP TABLE raw AS SELECT * FROM read_json('` + strings.ReplaceAll(events, "'", "''") + `', format = 'newline_delimited',
			columns = {click_id: 'VARCHAR', impression_id: 'VARCHAR', ad_id: 'VARCHAR', advertiser_id: 'VARCHAR', campaign_id: 'VARCHAR',
			placement_id: 'VARCHAR', impression_time: 'TIMESTAMP_NS', expires_at: 'TIMESTAMP_NS', click_time: 'TIMESTAMP_NS',
			user_key: 'VARCHAR', ua_class: 'VARCHAR', datacenter: 'BOOLEAN'})`,
		// One row per click id (re-deliveries are copies), classified.
		`CREATE TEMP TABLE clicks AS SELECT * EXCLUDE (imp, exp, at), at // 1000000 AS ms, CASE
			WHEN at < imp - ` + clockSkew + ` THEN 'invalid'
			WHEN exp <= imp THEN 'invalid'
			WHEN exp > imp + ` + maxTokenLifetime + ` THEN 'invalid'
			WHEN at >= exp THEN 'expired'
			WHEN ua_class = 'bot' THEN 'bot'
			WHEN coalesce(datacenter, false) THEN 'invalid_datacenter'
			WHEN at >= imp AND at < imp + ` + minClickDelay + ` THEN 'invalid_too_fast'
			ELSE 'counted' END AS class
			FROM (SELECT *, epoch_ns(impression_time) AS imp, epoch_ns(expires_at) AS exp, epoch_ns(click_time) AS at FROM raw)
			QUALIFY row_number() OVER (PARTITION BY click_id) = 1`,
		// The first countable click of each impression, then the burst
		// rule over each user's first clicks on an ad (first clicks only:
		// a window function would see the rows QUALIFY drops): earlier-
		// ranked first clicks within the window before it (same
		// millisecond: those with a smaller click id).
		`CREATE TEMP TABLE firsts AS SELECT * FROM clicks WHERE class = 'counted'
			QUALIFY row_number() OVER (PARTITION BY impression_id ORDER BY ms, click_id) = 1`,
		`CREATE TEMP TABLE bursts AS SELECT click_id,
			count(*) OVER (PARTITION BY ad_id, user_key ORDER BY ms RANGE BETWEEN ` + fmt.Sprint(burstWindowMs-1) + ` PRECEDING AND CURRENT ROW)
			- count(*) OVER (PARTITION BY ad_id, user_key, ms ORDER BY click_id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS before
			FROM firsts`,
		`CREATE TEMP TABLE outcome AS SELECT c.*, CASE WHEN c.class <> 'counted' THEN c.class WHEN f.click_id IS NULL THEN 'duplicate'
			WHEN f.before >= ` + fmt.Sprint(burstClicks) + ` THEN 'invalid_burst' ELSE 'counted' END AS outcome
			FROM clicks c LEFT JOIN bursts f USING (click_id) WHERE c.ms >= ` + fmt.Sprint(lo) + ` AND c.ms < ` + fmt.Sprint(hi),
		`CREATE TEMP TABLE minutes AS SELECT advertiser_id, series, ms // 60000 AS minute, count(*) AS n FROM (
			SELECT advertiser_id, ad_id AS series, ms FROM outcome WHERE outcome = 'counted'
			UNION ALL SELECT advertiser_id, '*', ms FROM outcome WHERE outcome = 'counted'
			UNION ALL SELECT advertiser_id, '@' || campaign_id, ms FROM outcome WHERE outcome = 'counted' AND campaign_id <> '')
			GROUP BY ALL`,
		`CREATE TEMP TABLE hours AS SELECT advertiser_id, series, minute // 60 AS hour, sum(n) AS n FROM minutes GROUP BY ALL`,
		`CREATE TEMP TABLE days AS SELECT advertiser_id, series, hour // 24 AS day, sum(n) AS n FROM hours GROUP BY ALL`,
		`CREATE TEMP TABLE outcomes AS SELECT advertiser_id, ad_id, outcome, count(*) AS n FROM outcome GROUP BY ALL`,
		`CREATE TEMP TABLE placements AS SELECT advertiser_id, ad_id, coalesce(placement_id, '(none)') AS placement, count(*) AS n
			FROM outcome WHERE outcome = 'counted' GROUP BY ALL`,
	}
	start := time.Now()
	var took []string
	for _, q := range steps {
		t := time.Now()
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%.60s…: %w", strings.Join(strings.Fields(q), " "), err)
		}
		name := strings.Fields(q)[3] // CREATE TEMP TABLE <name>
		took = append(took, fmt.Sprintf("%s %.1f s", name, time.Since(t).Seconds()))
	}
	// The steps, for where the time goes (stderr: batchbench reads stdout).
	fmt.Fprintln(os.Stderr, "duckdb steps:", strings.Join(took, ", "))
	var counted, cells int64
	if err := db.QueryRow(`SELECT (SELECT coalesce(sum(n), 0) FROM days WHERE series = '*'),
		(SELECT count(*) FROM minutes) + (SELECT count(*) FROM hours) + (SELECT count(*) FROM days)`).Scan(&counted, &cells); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Printf("duckdb: %d counted, %d count cells, %.1f s, %d threads\n", counted, cells, elapsed.Seconds(), threads)
	return nil
}
