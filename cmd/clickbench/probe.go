package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's CPU times; it is
// 100 on every Linux the Go toolchain supports.
const clockTick = 10 * time.Millisecond

// cpuTime is the user+system CPU a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// histogram is a cumulative Prometheus histogram: counts[i] observations
// were <= bounds[i].
type histogram struct {
	bounds []float64
	counts []float64
}

// scrapeHistogram reads one histogram series (name with label=value) from
// a /metrics endpoint.
func scrapeHistogram(url, name, label, value string) (histogram, error) {
	resp, err := http.Get(url)
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return histogram{}, fmt.Errorf("parse %s: %w", url, err)
	}
	fam, ok := families[name]
	if !ok {
		return histogram{}, fmt.Errorf("%s: no %s", url, name)
	}
	for _, m := range fam.GetMetric() {
		if !hasLabel(m, label, value) || m.GetHistogram() == nil {
			continue
		}
		var h histogram
		for _, b := range m.GetHistogram().GetBucket() {
			h.bounds = append(h.bounds, b.GetUpperBound())
			h.counts = append(h.counts, float64(b.GetCumulativeCount()))
		}
		return h, nil
	}
	return histogram{}, nil // not observed yet
}

func hasLabel(m *dto.Metric, name, value string) bool {
	return slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == name && l.GetValue() == value })
}

// quantile of the observations made between before and h, interpolated
// linearly within a bucket as Prometheus' histogram_quantile does.
func (h histogram) quantile(before histogram, q float64) time.Duration {
	counts := slices.Clone(h.counts)
	for i := range counts {
		if i < len(before.counts) {
			counts[i] -= before.counts[i]
		}
	}
	if len(counts) == 0 || counts[len(counts)-1] == 0 {
		return 0
	}
	rank := q * counts[len(counts)-1]
	lower, below := 0.0, 0.0
	for i, c := range counts {
		if c >= rank {
			if math.IsInf(h.bounds[i], 1) {
				break
			}
			frac := (rank - below) / max(c-below, 1)
			return time.Duration((lower + frac*(h.bounds[i]-lower)) * float64(time.Second))
		}
		lower, below = h.bounds[i], c
	}
	return time.Duration(lower * float64(time.Second)) // beyond the last finite bucket
}
