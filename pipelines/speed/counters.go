package speed

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/adclick/adclick/internal/countable"
)

// The job's counters. Every message read is one of: a dead letter, a
// click of an outcome Classify decides (bot, expired, invalid), a
// duplicate, or a first click (passed by dedupe); first clicks are
// counted unless the window drops them as too late, so clicks_counted
// (what Bigtable holds) is at most clicks_first.
var (
	clicksRead  = beam.NewCounter("adclick", "clicks_read")
	clicksFirst = beam.NewCounter("adclick", "clicks_first")
	deadLetters = beam.NewCounter("adclick", "dead_letters")
	outcomes    = map[countable.Outcome]beam.Counter{}
)

func init() {
	for _, o := range countable.Outcomes {
		outcomes[o] = beam.NewCounter("adclick", "clicks_"+string(o))
	}
}

func outcomeCounter(o countable.Outcome) beam.Counter { return outcomes[o] }

// CheckOutcomes checks the job's counters (by name, summed over steps)
// against each other: every message read has exactly one outcome, and no
// more clicks are counted than dedupe passed.
func CheckOutcomes(counters map[string]int64) error {
	read := counters["clicks_read"]
	sum := counters["dead_letters"] + counters["clicks_first"]
	for _, o := range countable.Outcomes {
		if o != countable.Counted {
			sum += counters["clicks_"+string(o)]
		}
	}
	if sum != read {
		return fmt.Errorf("counters: %d messages read but %d have an outcome (%v)", read, sum, counters)
	}
	if c, f := counters["clicks_counted"], counters["clicks_first"]; c > f {
		return fmt.Errorf("counters: %d clicks counted but dedupe passed only %d", c, f)
	}
	return nil
}

// CounterLine is how the streaming job reports a counter when it ends.
func CounterLine(namespace, name, step string, n int64) string {
	return fmt.Sprintf("streaming: counter %s/%s (%s) = %d", namespace, name, step, n)
}

var counterLine = regexp.MustCompile(`(?m)^streaming: counter adclick/(\w+) \(.*\) = (-?\d+)$`)

// ParseCounterLog sums, by name, the adclick counters a job's log reports
// (CounterLine); it fails when the log reports none.
func ParseCounterLog(log string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, m := range counterLine.FindAllStringSubmatch(log, -1) {
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("counter line %q: %w", m[0], err)
		}
		out[m[1]] += n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the job's log reports no adclick counters")
	}
	return out, nil
}
