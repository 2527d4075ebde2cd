package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/adclick/adclick/internal/catalog"
	"github.com/adclick/adclick/internal/ids"
	"github.com/adclick/adclick/internal/token"
)

// MintRequest is the body of POST /v1/impressions.
type MintRequest struct {
	AdID        string `json:"ad_id"`
	PlacementID string `json:"placement_id,omitempty"`
	// TTLSeconds is the link's lifetime; 0 means the service default.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// Count mints that many impressions of the ad at once (1-100; 0 means 1).
	Count int `json:"count,omitempty"`
}

// Impression is one minted click URL.
type Impression struct {
	ImpressionID string    `json:"impression_id"`
	ClickURL     string    `json:"click_url"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// MintResponse is the body of a 201 from POST /v1/impressions.
type MintResponse struct {
	AdID        string       `json:"ad_id"`
	Impressions []Impression `json:"impressions"`
}

// mint is POST /v1/impressions.
func (s *Server) mint(c *gin.Context) {
	if !s.authorized(c.GetHeader("Authorization")) {
		c.Header("WWW-Authenticate", `Bearer realm="adclick"`)
		c.Set("reason", "unauthorized")
		jsonError(c, http.StatusUnauthorized, "missing or wrong bearer secret")
		return
	}
	req, err := s.decodeMint(c)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			jsonError(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBodyBytes))
			return
		}
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	ad, ok := s.cfg.Catalog().Ad(req.AdID)
	if !ok {
		jsonError(c, http.StatusNotFound, fmt.Sprintf("ad %q does not exist", req.AdID))
		return
	}
	if ad.Status != catalog.StatusActive {
		jsonError(c, http.StatusConflict, fmt.Sprintf("ad %q is %s, not active", req.AdID, ad.Status))
		return
	}
	resp, err := s.Mint(req)
	if err != nil {
		jsonError(c, http.StatusBadRequest, err.Error())
		return
	}
	s.cfg.Metrics.Minted.Add(float64(len(resp.Impressions)))
	c.JSON(http.StatusCreated, resp)
}

func (s *Server) decodeMint(c *gin.Context) (MintRequest, error) {
	var req MintRequest
	if ct := c.ContentType(); ct != "application/json" {
		return req, fmt.Errorf("content type %q: want application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("decode body: %w", err)
	}
	if dec.More() {
		return req, errors.New("decode body: trailing data after the JSON object")
	}
	switch {
	case req.AdID == "":
		return req, errors.New("ad_id is required")
	case req.Count < 0 || req.Count > maxMintCount:
		return req, fmt.Errorf("count %d: want 1-%d", req.Count, maxMintCount)
	case req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > s.cfg.MaxTTL:
		return req, fmt.Errorf("ttl_seconds %d: want 1-%d", req.TTLSeconds, int(s.cfg.MaxTTL/time.Second))
	}
	return req, ids.CheckName("ad_id", req.AdID)
}

// Mint signs click URLs for req without any HTTP or catalog checks; the
// handler (or a Go ad server embedding this package) checks the ad first.
func (s *Server) Mint(req MintRequest) (MintResponse, error) {
	ttl := s.cfg.DefaultTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	n := max(req.Count, 1)
	now := s.cfg.Now().UTC().Truncate(time.Second)
	resp := MintResponse{AdID: req.AdID, Impressions: make([]Impression, 0, n)}
	for range n {
		id := token.NewImpressionID()
		tok, err := s.cfg.Keys.Sign(token.Claims{ImpressionID: id, AdID: req.AdID, PlacementID: req.PlacementID, IssuedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			return MintResponse{}, err
		}
		resp.Impressions = append(resp.Impressions, Impression{ImpressionID: id.String(), ClickURL: s.cfg.PublicBase + "/c/" + tok, ExpiresAt: now.Add(ttl)})
	}
	return resp, nil
}

// authorized checks a bearer header against every accepted secret in
// constant time (comparing fixed-size hashes hides the secrets' lengths).
func (s *Server) authorized(header string) bool {
	given, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || given == "" {
		return false
	}
	h := sha256.Sum256([]byte(given))
	match := 0
	for _, want := range s.bearerHashs {
		match |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return match == 1
}

func jsonError(c *gin.Context, code int, msg string) {
	c.Set("reason", msg)
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(code, gin.H{"error": msg})
}
