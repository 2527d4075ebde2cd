package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/blob"
	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/warehouse"
	"github.com/adclick/adclick/pipelines/nightly"
)

// campaignKey is a campaign of an advertiser: campaign ids are the
// advertiser's own, so two advertisers may use one.
type campaignKey struct{ advertiser, campaign string }

// campaignTruth sums the true counts per ad into the campaigns the
// catalog the click service served puts them in (no ad moves during the
// proof, so the recorded campaign is the catalog's).
func campaignTruth(cat *catalog.Catalog, perAd map[string]int64) (map[campaignKey]int64, error) {
	out := map[campaignKey]int64{}
	for _, ad := range ads {
		a, ok := cat.Ad(ad.id)
		if !ok {
			return nil, fmt.Errorf("ad %s is not in the catalog", ad.id)
		}
		if a.CampaignID != "" {
			out[campaignKey{ad.advertiser, a.CampaignID}] += perAd[ad.id]
		}
	}
	return out, nil
}

// checkCampaigns compares each campaign's exact count with the nightly's
// day cells in Bigtable and its campaign_clicks_day Parquet, and returns
// the report lines and how many campaigns differ.
func checkCampaigns(ctx context.Context, s *stack, tbl *bigtable.Table, days []time.Time, perAd map[string]int64) ([]string, int, error) {
	data, err := os.ReadFile("config/catalog.json")
	if err != nil {
		return nil, 0, err
	}
	cat, err := catalog.Parse(data)
	if err != nil {
		return nil, 0, err
	}
	want, err := campaignTruth(cat, perAd)
	if err != nil {
		return nil, 0, err
	}
	cells := map[campaignKey]int64{}
	for k := range want {
		for _, day := range days {
			n, _, err := btschema.ReadCount(ctx, tbl, btschema.Day, btschema.FamilyBatch, k.advertiser, btschema.CampaignSeries(k.campaign), day)
			if err != nil {
				return nil, 0, err
			}
			cells[k] += n
		}
	}
	parquet, err := campaignParquet(ctx, s, days)
	if err != nil {
		return nil, 0, err
	}
	return compareCampaigns(want, cells, parquet)
}

// compareCampaigns lines up truth, Bigtable and Parquet per campaign; a
// campaign in the tables but not in the truth is a mismatch too.
func compareCampaigns(want, cells, parquet map[campaignKey]int64) ([]string, int, error) {
	all := map[campaignKey]bool{}
	for _, m := range []map[campaignKey]int64{want, cells, parquet} {
		for k := range m {
			all[k] = true
		}
	}
	keys := make([]campaignKey, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].advertiser != keys[j].advertiser {
			return keys[i].advertiser < keys[j].advertiser
		}
		return keys[i].campaign < keys[j].campaign
	})
	var lines []string
	bad := 0
	for _, k := range keys {
		line := fmt.Sprintf("  %-8s %-18s %7d / %7d / %7d", k.advertiser, k.campaign, want[k], cells[k], parquet[k])
		if cells[k] != want[k] || parquet[k] != want[k] {
			bad++
			line += "  MISMATCH"
		}
		lines = append(lines, line)
	}
	return lines, bad, nil
}

func campaignParquet(ctx context.Context, s *stack, days []time.Time) (map[campaignKey]int64, error) {
	out := map[campaignKey]int64{}
	err := warehouseRows(ctx, s, warehouse.CountTable(warehouse.CampaignLevel, "day"), days, func(row any) {
		r := row.(warehouse.CampaignRow)
		out[campaignKey{r.AdvertiserID, r.CampaignID}] += r.Clicks
	})
	return out, err
}

// proofPlacement is the placement the proof's load mints every impression
// for (load.go).
const proofPlacement = "proof"

// checkPlacements: every countable click of an ad was shown in the proof's
// one placement, so the nightly's placement rows and table must hold
// exactly the ad's count under it, and nothing else.
func checkPlacements(ctx context.Context, s *stack, tbl *bigtable.Table, days []time.Time, perAd map[string]int64) (bad int, err error) {
	parquet := map[string]map[string]int64{}
	err = warehouseRows(ctx, s, warehouse.PlacementTable, days, func(row any) {
		r := row.(warehouse.PlacementRow)
		if parquet[r.AdID] == nil {
			parquet[r.AdID] = map[string]int64{}
		}
		parquet[r.AdID][r.PlacementID] += r.Clicks
	})
	if err != nil {
		return 0, err
	}
	for _, ad := range ads {
		cells := map[string]int64{}
		err := btschema.ReadCells(ctx, tbl, btschema.PlacementRows(ad.advertiser, ad.id, days[0], days[len(days)-1].AddDate(0, 0, 1)), btschema.FamilyBatch,
			func(c btschema.Cell) { cells[c.Column] += c.N })
		if err != nil {
			return 0, err
		}
		want := map[string]int64{proofPlacement: perAd[ad.id]}
		for what, got := range map[string]map[string]int64{"Bigtable": cells, "Parquet": parquet[ad.id]} {
			if fmt.Sprint(got) != fmt.Sprint(want) {
				fmt.Printf("  placements of %s in %s: %v, want %v  MISMATCH\n", ad.id, what, got, want)
				bad++
			}
		}
	}
	return bad, nil
}

// outcomeTotals sums ad_click_outcomes_day over days by outcome.
func outcomeTotals(ctx context.Context, s *stack, days []time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	err := warehouseRows(ctx, s, "ad_click_outcomes_day", days, func(row any) {
		r := row.(warehouse.OutcomeRow)
		out[r.Outcome] += r.Clicks
	})
	return out, err
}

// checkInvalidTraffic: each invalid-traffic outcome of the nightly is
// exactly the load's redirected clicks of that kind (clicked the moment
// they were minted, from the data-centre range, a script's past the burst
// limit).
func checkInvalidTraffic(outcomes map[string]int64, redirected map[countable.Outcome]int) []string {
	var bad []string
	for _, outcome := range countable.InvalidTraffic {
		if got, want := outcomes[string(outcome)], int64(redirected[outcome]); got != want {
			bad = append(bad, fmt.Sprintf("%s: the nightly says %d, the load made %d", outcome, got, want))
		}
	}
	sort.Strings(bad)
	return bad
}

// checkYears: the year tables are rolled up from the month tables, those
// from the days: with one year reconciled, each ad's and advertiser's
// year equals its exact count.
func checkYears(ctx context.Context, s *stack, days []time.Time, perAd map[string]int64) (bad []string, err error) {
	got := map[string]int64{}
	want := map[string]int64{}
	for _, ad := range ads {
		want["ad "+ad.id] += perAd[ad.id]
		want["advertiser "+ad.advertiser] += perAd[ad.id]
	}
	for _, level := range []warehouse.Level{warehouse.AdLevel, warehouse.AdvertiserLevel} {
		err := warehouseRows(ctx, s, warehouse.CountTable(level, "year"), days, func(row any) {
			switch r := row.(type) {
			case warehouse.AdRow:
				got["ad "+r.AdID] += r.Clicks
			case warehouse.AdvertiserRow:
				got["advertiser "+r.AdvertiserID] += r.Clicks
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for k, n := range want {
		if got[k] != n {
			bad = append(bad, fmt.Sprintf("%s: year tables say %d, the truth %d", k, got[k], n))
		}
	}
	sort.Strings(bad)
	return bad, nil
}

// warehouseRows calls fn with every row of the published partitions of
// table that hold days (each partition once: a year's for every day of it).
func warehouseRows(ctx context.Context, s *stack, table string, days []time.Time, fn func(row any)) error {
	t, err := warehouse.Lookup(table)
	if err != nil {
		return err
	}
	store, err := blob.Open(ctx, filepath.Join(s.dir, "warehouse"))
	if err != nil {
		return err
	}
	defer store.Close()
	read := map[time.Time]bool{}
	for _, d := range days {
		p := t.PartitionOf(d)
		if read[p] {
			continue
		}
		read[p] = true
		if err := nightly.ReadRows(ctx, store, t, p, fn); err != nil {
			return err
		}
	}
	return nil
}
