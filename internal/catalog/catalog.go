// Package catalog holds the ad catalog: advertisers, their ads, and each
// ad's landing URL and status. The landing URL of every redirect comes from
// here and nowhere else, which is what makes the click service a closed
// redirector.
package catalog

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/adclick/adclick/internal/apikey"
	"github.com/adclick/adclick/internal/ids"
)

// Ad statuses. Only active ads are served and minted.
const (
	StatusActive   = "active"
	StatusPaused   = "paused"
	StatusArchived = "archived"
)

// Ad is one ad as the catalog describes it.
type Ad struct {
	ID           string `json:"id"`
	AdvertiserID string `json:"-"`
	CampaignID   string `json:"campaign_id"`
	Name         string `json:"name,omitempty"`
	LandingURL   string `json:"landing_url"`
	Status       string `json:"status"`
}

// Advertiser owns ads. APIKeyHashes are the hashed API keys of the
// reporting API (see the reports service); several allow rotation.
type Advertiser struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	APIKeyHashes []string `json:"api_key_hashes,omitempty"`
	Ads          []Ad     `json:"ads"`
}

// Catalog is an immutable, validated snapshot. Reloading builds a new one.
type Catalog struct {
	advertisers map[string]*Advertiser
	ads         map[string]Ad
}

// file is the on-disk JSON document.
type file struct {
	Advertisers []Advertiser `json:"advertisers"`
}

// Parse decodes and validates a catalog document.
func Parse(data []byte) (*Catalog, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("catalog: decode JSON: %w", err)
	}
	c := &Catalog{advertisers: map[string]*Advertiser{}, ads: map[string]Ad{}}
	keyOwner := map[string]string{}
	for i := range f.Advertisers {
		adv := &f.Advertisers[i]
		if err := ids.CheckName("advertiser id", adv.ID); err != nil {
			return nil, fmt.Errorf("catalog: %w (%s)", err, ids.NameRule)
		}
		if _, dup := c.advertisers[adv.ID]; dup {
			return nil, fmt.Errorf("catalog: advertiser %q listed twice", adv.ID)
		}
		for _, h := range adv.APIKeyHashes {
			if !apikey.IsHash(h) {
				return nil, fmt.Errorf("catalog: advertiser %q: API key hash %.70q is not 64 hex digits (HMAC-SHA256)", adv.ID, h)
			}
			if other, dup := keyOwner[strings.ToLower(h)]; dup {
				// One key would sign in as whichever advertiser came last.
				return nil, fmt.Errorf("catalog: API key hash %.12s… is listed under %q and %q", h, other, adv.ID)
			}
			keyOwner[strings.ToLower(h)] = adv.ID
		}
		for j := range adv.Ads {
			ad := &adv.Ads[j]
			ad.AdvertiserID = adv.ID
			if err := validateAd(*ad); err != nil {
				return nil, fmt.Errorf("catalog: advertiser %q: %w", adv.ID, err)
			}
			if _, dup := c.ads[ad.ID]; dup {
				return nil, fmt.Errorf("catalog: ad %q listed twice", ad.ID)
			}
			c.ads[ad.ID] = *ad
		}
		c.advertisers[adv.ID] = adv
	}
	return c, nil
}

func validateAd(ad Ad) error {
	if err := ids.CheckName("ad id", ad.ID); err != nil {
		return fmt.Errorf("%w (%s)", err, ids.NameRule)
	}
	if ad.CampaignID != "" {
		if err := ids.CheckName("campaign id of ad "+ad.ID, ad.CampaignID); err != nil {
			return fmt.Errorf("%w (%s)", err, ids.NameRule)
		}
	}
	switch ad.Status {
	case StatusActive, StatusPaused, StatusArchived:
	default:
		return fmt.Errorf("ad %q: status %q is not active, paused or archived", ad.ID, ad.Status)
	}
	if err := ValidateLandingURL(ad.LandingURL); err != nil {
		return fmt.Errorf("ad %q: %w", ad.ID, err)
	}
	return nil
}

// ValidateLandingURL accepts only absolute http(s) URLs with a host and no
// credentials: anything else could turn a redirect into a trick.
func ValidateLandingURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("landing url %q: %w", raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("landing url %q must be an absolute http(s) URL with a host and no credentials", raw)
	}
	return nil
}

// Ad looks an ad up by id.
func (c *Catalog) Ad(id string) (Ad, bool) {
	ad, ok := c.ads[id]
	return ad, ok
}

// Advertiser looks an advertiser up by id.
func (c *Catalog) Advertiser(id string) (*Advertiser, bool) {
	a, ok := c.advertisers[id]
	return a, ok
}

// Advertisers lists advertiser ids, sorted.
func (c *Catalog) Advertisers() []string {
	ids := make([]string, 0, len(c.advertisers))
	for id := range c.advertisers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
