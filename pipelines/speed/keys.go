package speed

import (
	"strings"

	"github.com/adclick/adclick/internal/btschema"
)

// AllAds is the ad id of an advertiser's total.
const AllAds = btschema.AllAds

// CountKey joins advertiser and ad into one shuffle key.
func CountKey(advertiser, ad string) string { return advertiser + "/" + ad }

// SplitCountKey undoes CountKey. Ids never contain "/".
func SplitCountKey(k string) (advertiser, ad string) {
	advertiser, ad, _ = strings.Cut(k, "/")
	return advertiser, ad
}
