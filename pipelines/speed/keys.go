package speed

import (
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/countable"
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

var (
	deadLetters = beam.NewCounter("adclick", "dead_letters")
	outcomes    = map[countable.Outcome]beam.Counter{}
)

func init() {
	for _, o := range countable.Outcomes {
		outcomes[o] = beam.NewCounter("adclick", "clicks_"+string(o))
	}
}

func outcomeCounter(o countable.Outcome) beam.Counter { return outcomes[o] }
