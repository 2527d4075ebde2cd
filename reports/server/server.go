// Package server is the advertisers' reporting API and dashboard.
//
//	GET /v1/ads                          the caller's ads
//	GET /v1/ads/{ad_id}/clicks           one ad's series
//	GET /v1/advertiser/clicks            the caller's total over all ads
//	GET /v1/advertiser/top               the caller's most clicked ads
//	GET /openapi.json                    this API, described
//	GET /                                the dashboard
//
// Every /v1 call needs "Authorization: Bearer <api key>"; the key names the
// advertiser, who sees only their own ads: another advertiser's ad answers
// 404 exactly as a missing one does.
package server

import (
	"context"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/ratelimit"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/ids"
	"github.com/adclick/adclick/reports/query"
)

// Config wires the server.
type Config struct {
	Catalog func() *catalog.Catalog
	Pepper  []byte
	Reader  *query.Reader
	Log     *slog.Logger
	// Metrics registers the API's metrics (nil: none).
	Metrics prometheus.Registerer
	Now     func() time.Time
	// Limiter, if set, limits each API key's requests (429 past it).
	Limiter *ratelimit.Limiter
	// ReadTimeout bounds each API request's reads (0: DefaultReadTimeout).
	ReadTimeout time.Duration
}

// DefaultReadTimeout bounds an API request's Bigtable reads: past it the
// answer is a 503, and nothing keeps reading for a client that gave up.
const DefaultReadTimeout = 5 * time.Second

// Server serves the API.
type Server struct {
	cfg     Config
	queries *prometheus.HistogramVec
}

//go:embed web openapi.json
var assets embed.FS

// New builds the server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	s := &Server{cfg: cfg, queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "adclick", Subsystem: "reports", Name: "query_seconds",
		Help:    "Bigtable read time per API query, by kind.",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, 1},
	}, []string{"kind"})}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(s.queries)
	}
	return s
}

// securityHeaders are on every answer: the dashboard loads only its own
// files (no inline script or style, no framing), and nothing is sniffed
// or leaks its URL as a referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

func withSecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	c.Next()
}

// Routes adds the API and the dashboard to r.
func (s *Server) Routes(r gin.IRouter) {
	r.Use(withSecurityHeaders)
	v1 := r.Group("/v1", s.authenticate)
	v1.GET("/ads", s.listAds)
	v1.GET("/ads/:ad_id/clicks", s.adClicks)
	v1.GET("/advertiser/clicks", s.advertiserClicks)
	v1.GET("/advertiser/top", s.top)
	v1.GET("/ads/:ad_id/placements", s.adPlacements)
	v1.GET("/ads/:ad_id/invalid", s.adInvalid)
	v1.GET("/campaigns", s.listCampaigns)
	v1.GET("/campaigns/:campaign_id/clicks", s.campaignClicks)
	v1.GET("/advertiser/top-campaigns", s.topCampaigns)
	r.GET("/openapi.json", func(c *gin.Context) {
		data, _ := assets.ReadFile("openapi.json")
		c.Data(http.StatusOK, "application/json", data)
	})
	web, _ := fs.Sub(assets, "web")
	r.GET("/", func(c *gin.Context) { c.FileFromFS("/", http.FS(web)) })
	r.StaticFS("/static", http.FS(web))
}

const advertiserKey = "advertiser"

func (s *Server) authenticate(c *gin.Context) {
	key, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	key = strings.TrimSpace(key)
	// One hash per request: it finds the advertiser and names the key's bucket.
	keyHash := apikey.Hash(s.cfg.Pepper, key)
	adv, found := advertiserFor(s.cfg.Catalog(), keyHash)
	if !ok || key == "" || !found {
		c.Header("WWW-Authenticate", `Bearer realm="adclick reports"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "a valid API key is required: Authorization: Bearer <key>"})
		return
	}
	if s.cfg.Limiter != nil {
		if ok, wait := s.cfg.Limiter.Allow(keyHash, s.cfg.Now()); !ok {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": "too many requests for this API key; retry after the Retry-After seconds"})
			return
		}
	}
	c.Set(advertiserKey, adv)
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ReadTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func advertiserOf(c *gin.Context) *catalog.Advertiser {
	return c.MustGet(advertiserKey).(*catalog.Advertiser)
}

type adInfo struct {
	AdID       string `json:"ad_id"`
	Name       string `json:"name"`
	CampaignID string `json:"campaign_id"`
	Status     string `json:"status"`
}

func (s *Server) listAds(c *gin.Context) {
	adv := advertiserOf(c)
	ads := make([]adInfo, 0, len(adv.Ads))
	for _, a := range adv.Ads {
		ads = append(ads, adInfo{AdID: a.ID, Name: a.Name, CampaignID: a.CampaignID, Status: a.Status})
	}
	c.JSON(http.StatusOK, gin.H{"advertiser_id": adv.ID, "name": adv.Name, "ads": ads})
}

// seriesParams are a series request's parameters, validated.
type seriesParams struct {
	from, to    time.Time
	granularity query.Granularity
	loc         *time.Location
}

// defaultSpan is the range when from is not given.
var defaultSpan = map[query.Granularity]time.Duration{
	query.Minute: time.Hour, query.Hour: 48 * time.Hour, query.Day: 30 * 24 * time.Hour, query.Month: 365 * 24 * time.Hour,
	query.Year: 5 * 365 * 24 * time.Hour,
}

// badRequest is a parameter error: which parameter and why.
type badRequest struct{ param, why string }

func (e badRequest) Error() string { return e.param + ": " + e.why }

func (s *Server) parseSeries(c *gin.Context) (seriesParams, error) {
	p := seriesParams{granularity: query.Granularity(c.DefaultQuery("granularity", "minute")), loc: time.UTC}
	if _, ok := defaultSpan[p.granularity]; !ok {
		return p, badRequest{"granularity", fmt.Sprintf("%q is not one of minute, hour, day, month, year", p.granularity)}
	}
	var err error
	if p.loc, err = parseZone(c); err != nil {
		return p, err
	}
	if p.to, err = parseTime(c.Query("to"), p.loc, s.cfg.Now()); err != nil {
		return p, badRequest{"to", err.Error()}
	}
	if p.from, err = parseTime(c.Query("from"), p.loc, p.to.Add(-defaultSpan[p.granularity])); err != nil {
		return p, badRequest{"from", err.Error()}
	}
	if !p.from.Before(p.to) {
		return p, badRequest{"from", fmt.Sprintf("%s is not before to %s", p.from.Format(time.RFC3339), p.to.Format(time.RFC3339))}
	}
	if span := p.to.Sub(p.from); span > query.MaxSpan[p.granularity] {
		return p, badRequest{"from", fmt.Sprintf("range too long for granularity %s: %v, at most %v", p.granularity, span.Round(time.Hour), query.MaxSpan[p.granularity])}
	}
	if _, err := query.Buckets(p.from, p.to, p.granularity, p.loc); err != nil {
		return p, badRequest{"from", fmt.Sprintf("range too long for granularity %s: at most %d points (%v)", p.granularity, query.MaxPoints, err)}
	}
	return p, nil
}

// parseZone reads tz: an IANA time zone, default UTC.
func parseZone(c *gin.Context) (*time.Location, error) {
	tz := c.Query("tz")
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, badRequest{"tz", fmt.Sprintf("%q is not an IANA time zone (e.g. Europe/Paris)", tz)}
	}
	return loc, nil
}

// parseTime reads RFC 3339, or a date (midnight in loc); empty is def.
func parseTime(v string, loc *time.Location, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-27T13:00:00Z) nor a date (2026-11-27)", v)
}

func (s *Server) adClicks(c *gin.Context) {
	adv := advertiserOf(c)
	adID := c.Param("ad_id")
	if err := ids.CheckName("ad_id", adID); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	if !owns(adv, adID) {
		// The same answer as for an ad that does not exist.
		c.JSON(http.StatusNotFound, gin.H{"error": fmt.Sprintf("no ad %q", adID)})
		return
	}
	s.series(c, adv.ID, adID)
}

// adPlacements ranks the placements that brought an ad's clicks over the
// reconciled days (in tz) of a range (default the last 30): final
// numbers from the nightly.
func (s *Server) adPlacements(c *gin.Context) {
	adv, adID, days, ok := s.adDays(c)
	if !ok {
		return
	}
	n, err := strconv.Atoi(c.DefaultQuery("n", "20"))
	if err != nil || n < 1 || n > maxTop {
		s.fail(c, badRequest{"n", fmt.Sprintf("%q: want 1 to %d", c.Query("n"), maxTop)})
		return
	}
	start := time.Now()
	placements, err := s.cfg.Reader.TopPlacements(c.Request.Context(), adv.ID, adID, days.from, days.to, days.loc, n)
	s.queries.WithLabelValues("placements").Observe(time.Since(start).Seconds())
	if err != nil {
		s.fail(c, fmt.Errorf("read placements of %s/%s: %w", adv.ID, adID, err))
		return
	}
	if wantsCSV(c) { // per day, as the warehouse table
		rows := [][]string{{"date", "placement_id", "clicks"}}
		for _, d := range placements.ByDay {
			for _, p := range d.Placements {
				rows = append(rows, []string{d.Date, p.PlacementID, strconv.FormatInt(p.Clicks, 10)})
			}
		}
		writeCSV(c, rows)
		return
	}
	reconciled := make([]string, len(placements.ByDay))
	for i, d := range placements.ByDay {
		reconciled[i] = d.Date
	}
	c.JSON(http.StatusOK, gin.H{"advertiser_id": adv.ID, "ad_id": adID, "tz": days.loc.String(), "from": days.from.UTC(), "to": days.to.UTC(),
		"days_reconciled": reconciled, "placements": placements.Top, "by_day": placements.ByDay})
}

// dayRange is a per-day view's range: the days in loc overlapping
// [from, to).
type dayRange struct {
	from, to time.Time
	loc      *time.Location
}

// adDays reads what every per-day view of one ad takes: the caller's ad
// (404 as for a missing one otherwise) and the range (parseDays). ok is
// false when it has answered the request.
func (s *Server) adDays(c *gin.Context) (adv *catalog.Advertiser, adID string, days dayRange, ok bool) {
	adv, adID = advertiserOf(c), c.Param("ad_id")
	if err := ids.CheckName("ad_id", adID); err != nil || !owns(adv, adID) {
		c.JSON(http.StatusNotFound, gin.H{"error": fmt.Sprintf("no ad %q", adID)})
		return nil, "", days, false
	}
	days, err := s.parseDays(c)
	if err != nil {
		s.fail(c, err)
		return nil, "", days, false
	}
	return adv, adID, days, true
}

// parseDays reads the tz, from and to of a per-day view: days in tz
// (default UTC), default the last 30, at most query.MaxPlacementRange.
func (s *Server) parseDays(c *gin.Context) (d dayRange, err error) {
	if d.loc, err = parseZone(c); err != nil {
		return d, err
	}
	if d.to, err = parseTime(c.Query("to"), d.loc, s.cfg.Now()); err != nil {
		return d, badRequest{"to", err.Error()}
	}
	if d.from, err = parseTime(c.Query("from"), d.loc, d.to.AddDate(0, 0, -30)); err != nil {
		return d, badRequest{"from", err.Error()}
	}
	if !d.from.Before(d.to) || d.to.Sub(d.from) > query.MaxPlacementRange {
		return d, badRequest{"from", fmt.Sprintf("want before to and at most %v before it", query.MaxPlacementRange)}
	}
	if _, err := query.DayStarts(d.from, d.to, d.loc); err != nil {
		return d, badRequest{"tz", err.Error()}
	}
	return d, nil
}

// adInvalid lists an ad's invalid clicks (not billed) per reconciled day
// and reason: what the nightly filtered and why.
func (s *Server) adInvalid(c *gin.Context) {
	adv, adID, r, ok := s.adDays(c)
	if !ok {
		return
	}
	start := time.Now()
	days, err := s.cfg.Reader.InvalidClicks(c.Request.Context(), adv.ID, adID, r.from, r.to, r.loc)
	s.queries.WithLabelValues("invalid").Observe(time.Since(start).Seconds())
	if err != nil {
		s.fail(c, fmt.Errorf("read invalid clicks of %s/%s: %w", adv.ID, adID, err))
		return
	}
	if wantsCSV(c) {
		head := []string{"date"}
		for _, o := range countable.InvalidTraffic {
			head = append(head, string(o))
		}
		rows := [][]string{append(head, "total")}
		for _, d := range days {
			row := []string{d.Date}
			for _, o := range countable.InvalidTraffic {
				row = append(row, strconv.FormatInt(d.Reasons[string(o)], 10))
			}
			rows = append(rows, append(row, strconv.FormatInt(d.Total, 10)))
		}
		writeCSV(c, rows)
		return
	}
	c.JSON(http.StatusOK, gin.H{"advertiser_id": adv.ID, "ad_id": adID, "tz": r.loc.String(), "from": r.from.UTC(), "to": r.to.UTC(), "days": days})
}

func owns(adv *catalog.Advertiser, adID string) bool {
	for _, a := range adv.Ads {
		if a.ID == adID {
			return true
		}
	}
	return false
}

type campaignInfo struct {
	CampaignID string   `json:"campaign_id"`
	Ads        []string `json:"ad_ids"`
}

// listCampaigns lists the campaigns of the caller's ads in today's
// catalog. A campaign no ad is in any more keeps its past clicks and
// can still be asked for by id (top-campaigns names it).
func (s *Server) listCampaigns(c *gin.Context) {
	adv := advertiserOf(c)
	byID := map[string][]string{}
	for _, a := range adv.Ads {
		if a.CampaignID != "" {
			byID[a.CampaignID] = append(byID[a.CampaignID], a.ID)
		}
	}
	out := make([]campaignInfo, 0, len(byID))
	for id, ads := range byID {
		out = append(out, campaignInfo{CampaignID: id, Ads: ads})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CampaignID < out[j].CampaignID })
	c.JSON(http.StatusOK, gin.H{"advertiser_id": adv.ID, "campaigns": out})
}

// campaignClicks is a campaign's series: the clicks recorded with that
// campaign among the caller's ads. Any well-formed id is answered from
// the caller's own rows only (zeros for a campaign they never had), so
// no id reaches another advertiser's counts.
func (s *Server) campaignClicks(c *gin.Context) {
	id := c.Param("campaign_id")
	if err := ids.CheckName("campaign_id", id); err != nil {
		s.fail(c, badRequest{"campaign_id", err.Error()})
		return
	}
	s.series(c, advertiserOf(c).ID, btschema.CampaignSeries(id))
}

func (s *Server) advertiserClicks(c *gin.Context) {
	s.series(c, advertiserOf(c).ID, btschema.AllAds)
}

func (s *Server) series(c *gin.Context, advertiser, ad string) {
	p, err := s.parseSeries(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	start := time.Now()
	points, err := s.cfg.Reader.Series(c.Request.Context(), advertiser, ad, p.from, p.to, p.granularity, p.loc)
	s.queries.WithLabelValues("series_" + string(p.granularity)).Observe(time.Since(start).Seconds())
	if err != nil {
		s.fail(c, fmt.Errorf("read series of %s/%s: %w", advertiser, ad, err))
		return
	}
	if wantsCSV(c) {
		rows := [][]string{{"start", "clicks", "final", "open"}}
		for _, pt := range points {
			rows = append(rows, []string{pt.Start.Format(time.RFC3339), strconv.FormatInt(pt.Clicks, 10), strconv.FormatBool(pt.Final), strconv.FormatBool(pt.Open)})
		}
		writeCSV(c, rows)
		return
	}
	body := gin.H{
		"advertiser_id": advertiser, "granularity": p.granularity, "tz": p.loc.String(),
		"from": p.from.In(p.loc), "to": p.to.In(p.loc), "points": points,
	}
	if campaign, ok := btschema.CampaignOf(ad); ok {
		body["campaign_id"] = campaign
	} else if ad != btschema.AllAds {
		body["ad_id"] = ad
	} else {
		body["ad_id"] = ""
	}
	c.JSON(http.StatusOK, body)
}

const maxTop = 100

// topParams are a top request's range and size, validated.
type topParams struct {
	from, to time.Time
	n        int
}

func (s *Server) parseTop(c *gin.Context) (topParams, error) {
	var p topParams
	var err error
	if p.to, err = parseTime(c.Query("to"), time.UTC, s.cfg.Now()); err != nil {
		return p, badRequest{"to", err.Error()}
	}
	minutes, err := strconv.Atoi(c.DefaultQuery("minutes", "60"))
	if err != nil || minutes < 1 || time.Duration(minutes)*time.Minute > query.MaxTopRange {
		return p, badRequest{"minutes", fmt.Sprintf("%q: want 1 to %d", c.Query("minutes"), int(query.MaxTopRange/time.Minute))}
	}
	p.from = p.to.Add(-time.Duration(minutes) * time.Minute)
	if v := c.Query("from"); v != "" {
		if p.from, err = parseTime(v, time.UTC, p.from); err != nil {
			return p, badRequest{"from", err.Error()}
		}
		if !p.from.Before(p.to) || p.to.Sub(p.from) > query.MaxTopRange {
			return p, badRequest{"from", fmt.Sprintf("want before to and at most %v before it", query.MaxTopRange)}
		}
	}
	if p.n, err = strconv.Atoi(c.DefaultQuery("n", "10")); err != nil || p.n < 1 || p.n > maxTop {
		return p, badRequest{"n", fmt.Sprintf("%q: want 1 to %d", c.Query("n"), maxTop)}
	}
	return p, nil
}

func (s *Server) top(c *gin.Context) { s.ranking(c, "top", "ad", s.cfg.Reader.Top) }

func (s *Server) topCampaigns(c *gin.Context) {
	s.ranking(c, "top_campaigns", "campaign", s.cfg.Reader.TopCampaigns)
}

// ranking answers a top-N request for what ("ad", "campaign"): JSON
// {"<what>s": [{"<what>_id", "clicks", "final"}]} or CSV with those columns.
func (s *Server) ranking(c *gin.Context, metric, what string, read func(ctx context.Context, advertiser string, from, to time.Time, n int) ([]query.Ranked, error)) {
	adv := advertiserOf(c)
	p, err := s.parseTop(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	start := time.Now()
	top, err := read(c.Request.Context(), adv.ID, p.from, p.to, p.n)
	s.queries.WithLabelValues(metric).Observe(time.Since(start).Seconds())
	if err != nil {
		s.fail(c, fmt.Errorf("read top %ss of %s: %w", what, adv.ID, err))
		return
	}
	idName := what + "_id"
	if wantsCSV(c) {
		rows := [][]string{{idName, "clicks", "final"}}
		for _, x := range top {
			rows = append(rows, []string{x.ID, strconv.FormatInt(x.Clicks, 10), strconv.FormatBool(x.Final)})
		}
		writeCSV(c, rows)
		return
	}
	items := make([]gin.H, len(top))
	for i, x := range top {
		items[i] = gin.H{idName: x.ID, "clicks": x.Clicks, "final": x.Final}
	}
	c.JSON(http.StatusOK, gin.H{"advertiser_id": adv.ID, "from": p.from.UTC(), "to": p.to.UTC(), what + "s": items})
}

func wantsCSV(c *gin.Context) bool {
	return c.Query("format") == "csv" || strings.Contains(c.GetHeader("Accept"), "text/csv")
}

func writeCSV(c *gin.Context, rows [][]string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.WriteAll(rows)
}

// fail answers 400 with the parameter and reason for bad parameters, and
// 503 (logged) for anything else: the store is the only other source of
// errors.
func (s *Server) fail(c *gin.Context, err error) {
	var bad badRequest
	if errors.As(err, &bad) {
		c.JSON(http.StatusBadRequest, gin.H{"error": bad.Error(), "param": bad.param})
		return
	}
	if errors.Is(err, context.Canceled) {
		c.AbortWithStatus(499)
		return
	}
	s.cfg.Log.Error("query failed", "path", c.FullPath(), "err", err)
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "counts are unavailable right now; try again"})
}
