// Package server is the click service's HTTP surface, built on Gin:
//
//	GET  /c/:token        verify, record, 302 to the ad's landing URL
//	POST /v1/impressions  mint signed click URLs (ad servers, bearer auth)
//	GET  /healthz, /readyz (status only; /metrics and details on the admin listener)
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/clickevent"
	"github.com/adclick/adclick/internal/countable"
	"github.com/adclick/adclick/internal/obs"
	"github.com/adclick/adclick/internal/ratelimit"
	"github.com/adclick/adclick/internal/token"
	"github.com/adclick/adclick/redirect/netranges"
	"github.com/adclick/adclick/redirect/publish"
)

// Publisher is what the click handler needs from the publish package.
type Publisher interface {
	Publish(ctx context.Context, msg publish.Message) (publish.Route, error)
}

// CookieName is our first-party cookie; its value is random and only ever
// stored hashed (clickevent.UserKeyer).
const CookieName = "adclick_uid"

// Config is everything the handlers depend on.
type Config struct {
	Keys       *token.Keyring
	Catalog    func() *catalog.Catalog
	Publisher  Publisher
	UserKeys   *clickevent.UserKeyer
	Limiter    *ratelimit.Limiter // nil: no rate limit
	Log        *slog.Logger
	Registry   *prometheus.Registry
	Metrics    *Metrics
	Health     *obs.Health
	Now        func() time.Time
	PublicBase string // scheme://host[:port] of click URLs, no trailing slash
	// AdServerSecrets are the accepted bearer secrets of POST /v1/impressions;
	// several allow rotation. Only their SHA-256 is kept.
	AdServerSecrets []string
	DefaultTTL      time.Duration
	MaxTTL          time.Duration
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed; empty
	// means the peer address is the client.
	TrustedProxies []string
	// Datacenters are address ranges whose clicks are flagged in the
	// event (countable's invalid_datacenter); nil flags none. The address
	// itself is never recorded.
	Datacenters *netranges.Set
}

// Server holds the Gin engine and its dependencies.
type Server struct {
	cfg         Config
	engine      *gin.Engine
	bearerHashs [][32]byte
	// cookieAttrs follow name=value in the Set-Cookie of a new visitor;
	// built once, as http.Cookie.String would build them per click.
	cookieAttrs string
}

// Limits on what a client may send.
const (
	maxBodyBytes  = 8 << 10
	maxMintCount  = 100
	maxHeaderSize = 16 << 10
)

// MaxHeaderBytes is the value for http.Server.MaxHeaderBytes.
const MaxHeaderBytes = maxHeaderSize

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTTL <= 0 || cfg.MaxTTL < cfg.DefaultTTL {
		return nil, fmt.Errorf("token ttl: default %v must be positive and at most max %v", cfg.DefaultTTL, cfg.MaxTTL)
	}
	if cfg.MaxTTL > countable.MaxTokenLifetime {
		// Longer tokens would outlive the pipelines' dedupe horizon, and
		// countable rejects their clicks as invalid.
		return nil, fmt.Errorf("token max ttl %v: the pipelines count clicks of tokens up to %v", cfg.MaxTTL, countable.MaxTokenLifetime)
	}
	if err := catalog.ValidateLandingURL(cfg.PublicBase); err != nil {
		return nil, fmt.Errorf("public base url: %w", err)
	}
	cfg.PublicBase = strings.TrimRight(cfg.PublicBase, "/")
	s := &Server{cfg: cfg, cookieAttrs: cookieAttrs(cfg.PublicBase)}
	for _, sec := range cfg.AdServerSecrets {
		if len(sec) < 16 {
			return nil, errors.New("ad server secret shorter than 16 characters")
		}
		s.bearerHashs = append(s.bearerHashs, sha256.Sum256([]byte(sec)))
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.Use(gin.CustomRecoveryWithWriter(nil, s.recovered), obs.RequestMetrics(cfg.Registry, "adclick_redirect"), obs.RequestLog(cfg.Log))
	e.NoRoute(func(c *gin.Context) { plain(c, http.StatusNotFound, "not found") })
	e.NoMethod(func(c *gin.Context) { plain(c, http.StatusMethodNotAllowed, "method not allowed") })
	cfg.Health.Register(e) // metrics and detailed readiness: obs.ServeAdmin
	e.GET("/c/:token", s.rateLimit, s.click)
	e.POST("/v1/impressions", s.rateLimit, s.mint)
	s.engine = e
	return s, nil
}

// Handler is the HTTP handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) recovered(c *gin.Context, err any) {
	s.cfg.Log.Error("panic in handler", "route", c.FullPath(), "panic", fmt.Sprint(err))
	plain(c, http.StatusInternalServerError, "internal error")
}

// plain answers with a short text page: no redirect, no markup to inject into.
func plain(c *gin.Context, code int, msg string) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(code, "text/plain; charset=utf-8", []byte(msg+"\n"))
	c.Abort()
}

func (s *Server) rateLimit(c *gin.Context) {
	if s.cfg.Limiter == nil {
		return
	}
	if ok, wait := s.cfg.Limiter.Allow(ratelimit.ClientKey(c.ClientIP()), s.cfg.Now()); !ok {
		s.cfg.Metrics.RateLimited.Inc()
		c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		c.Set("reason", "rate_limited")
		plain(c, http.StatusTooManyRequests, "too many requests")
	}
}

// click is GET /c/:token.
func (s *Server) click(c *gin.Context) {
	now := s.cfg.Now().UTC()
	claims, err := s.cfg.Keys.Verify(c.Param("token"), now)
	expired := errors.Is(err, token.ErrExpired)
	if err != nil && !expired {
		s.refuse(c, http.StatusBadRequest, token.Reason(err), "invalid click link ("+token.Reason(err)+")")
		return
	}
	ad, ok := s.cfg.Catalog().Ad(claims.AdID)
	if !ok {
		s.refuse(c, http.StatusNotFound, "unknown_ad", "this ad does not exist")
		return
	}
	if ad.Status != catalog.StatusActive {
		s.refuse(c, http.StatusGone, "ad_"+ad.Status, "this ad is no longer running")
		return
	}
	ev := s.event(c, claims, ad, now)
	data, err := clickevent.Marshal(ev)
	if err != nil {
		s.refuse(c, http.StatusInternalServerError, "encode", "internal error")
		return
	}
	route, err := s.cfg.Publisher.Publish(c.Request.Context(), publish.Message{Data: data, Attributes: clickevent.Attributes(ev)})
	if err != nil {
		// Neither Pub/Sub nor the spool holds the click: do not pretend it counted.
		s.cfg.Log.Error("click not recorded", "click_id", ev.ClickID, "ad_id", ev.AdID, "err", err)
		s.refuse(c, http.StatusServiceUnavailable, "unrecorded", "temporarily unavailable, please retry")
		return
	}
	outcome := "redirected"
	if expired {
		// An authentic but expired link still takes the user to the ad; the
		// click is archived and never counted.
		outcome = "expired"
	}
	s.cfg.Metrics.click(outcome).Inc()
	if route == publish.RouteSpool {
		c.Set("reason", "spooled") // c.Set allocates: only when it tells something
	}
	found(c, ad.LandingURL)
}

// Header values shared by every redirect; net/http only reads them, and
// their capacity of one makes an Add elsewhere copy, not overwrite.
var (
	noStore           = []string{"no-store"}
	referrerPolicy    = []string{"no-referrer-when-downgrade"}
	zeroContentLength = []string{"0"}
)

// found answers 302 to a landing URL from the catalog, which validated it
// as an absolute http(s) URL. net/http.Redirect would parse it again and
// write an HTML note from inside the handler, which makes net/http copy
// the header map: together a third of a click's allocations. Browsers
// follow the Location header alone.
func found(c *gin.Context, landing string) {
	h := c.Writer.Header()
	h["Location"] = []string{escapeNonASCII(landing)}
	h["Cache-Control"] = noStore
	h["Referrer-Policy"] = referrerPolicy
	h["Content-Length"] = zeroContentLength
	c.Status(http.StatusFound)
}

// escapeNonASCII percent-encodes bytes outside ASCII, as net/http.Redirect
// does, so a header carries only ASCII; control characters never reach
// here (url.Parse refuses them in the catalog).
func escapeNonASCII(u string) string {
	i := 0
	for i < len(u) && u[i] < utf8.RuneSelf {
		i++
	}
	if i == len(u) {
		return u
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(u)+16)
	b = append(b, u[:i]...)
	for ; i < len(u); i++ {
		if u[i] < utf8.RuneSelf {
			b = append(b, u[i])
		} else {
			b = append(b, '%', hexDigits[u[i]>>4], hexDigits[u[i]&0xf])
		}
	}
	return string(b)
}

func (s *Server) refuse(c *gin.Context, code int, reason, msg string) {
	s.cfg.Metrics.click(reason).Inc()
	c.Set("reason", reason)
	plain(c, code, msg)
}

func (s *Server) event(c *gin.Context, claims token.Claims, ad catalog.Ad, now time.Time) *clickevent.Event {
	ua := c.Request.UserAgent()
	class := clickevent.ClassifyUserAgent(ua)
	// One read of the random source for the click id and a new cookie.
	var random [32]byte
	rand.Read(random[:]) // never fails on supported platforms
	return &clickevent.Event{
		SchemaVersion:  clickevent.SchemaVersion,
		ClickID:        hex.EncodeToString(random[:16]),
		ImpressionID:   claims.ImpressionID.String(),
		AdID:           ad.ID,
		AdvertiserID:   ad.AdvertiserID,
		CampaignID:     ad.CampaignID,
		PlacementID:    claims.PlacementID,
		ImpressionTime: claims.IssuedAt,
		ExpiresAt:      claims.ExpiresAt,
		ClickTime:      now,
		UserKey:        s.userKey(c, ua, class, random[16:]),
		UAClass:        class,
		Datacenter:     s.cfg.Datacenters.Contains(c.ClientIP()),
	}
}

// userKey keys the user by our cookie, setting one if absent, so repeat
// visitors keep one key even when their address changes.
func (s *Server) userKey(c *gin.Context, ua, class string, random []byte) string {
	if v, err := c.Cookie(CookieName); err == nil && len(v) == 32 {
		return s.cfg.UserKeys.FromCookie(v)
	}
	if class == clickevent.UABot {
		return s.cfg.UserKeys.FromClient(c.ClientIP(), ua)
	}
	v := hex.EncodeToString(random)
	c.Writer.Header()["Set-Cookie"] = []string{CookieName + "=" + v + s.cookieAttrs}
	return s.cfg.UserKeys.FromCookie(v)
}

// cookieAttrs are the attributes of our cookie: a year, click paths only,
// invisible to scripts, sent on top-level navigation from other sites (an
// ad click is one), and Secure when clicks are served over https.
func cookieAttrs(publicBase string) string {
	c := (&http.Cookie{Name: CookieName, Value: "v", Path: "/c/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
		Secure: strings.HasPrefix(publicBase, "https://"), SameSite: http.SameSiteLaxMode}).String()
	return strings.TrimPrefix(c, CookieName+"=v")
}
