package follow

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names; every series has the label stream.
const (
	metricApplied  = "tidelog_follow_applied_timestamp_seconds"
	metricLag      = "tidelog_follow_apply_lag_seconds"
	metricDelay    = "tidelog_follow_delay_seconds"
	metricEntries  = "tidelog_follow_entries_applied_total"
	metricSegments = "tidelog_follow_segments_applied_total"
	metricErrors   = "tidelog_follow_apply_errors_total"
	metricCkptAge  = "tidelog_follow_checkpoint_age_seconds"
	metricStoreEnd = "tidelog_follow_store_newest_segment_end_timestamp_seconds"
	metricOpenTxns = "tidelog_follow_open_transactions"
	metricReady    = "tidelog_follow_ready"
	labelStream    = "stream"
)

// collector exposes a follower's Status as Prometheus series, computed at
// each scrape (so the lag grows while nothing is applied).
type collector struct {
	f     *Follower
	descs map[string]*prometheus.Desc
}

// Collector returns the follower's series, for the command's own
// prometheus.Registry (never the global one).
func (f *Follower) Collector() prometheus.Collector {
	help := map[string]string{
		metricApplied:  "ts (seconds since the epoch) of the newest entry applied: the target holds the source's data as of it",
		metricLag:      "now minus the applied timestamp, at scrape time (grows while the source is idle, too)",
		metricDelay:    "the configured --delay: the lag it adds on purpose (alert on lag minus delay)",
		metricEntries:  "oplog entries applied (rate() is entries/s)",
		metricSegments: "segments applied whole",
		metricErrors:   "failed apply cycles (each retried from the last commit) and failures that stopped the follower",
		metricCkptAge:  "seconds since the follower's checkpoint was last committed",
		metricStoreEnd: "ts (seconds since the epoch) of the end of the newest segment listed in the store",
		metricOpenTxns: "transactions begun and not committed yet (applied at their commit)",
		metricReady:    "1 when /readyz answers ready",
	}
	c := &collector{f: f, descs: map[string]*prometheus.Desc{}}
	for name, h := range help {
		c.descs[name] = prometheus.NewDesc(name, h, []string{labelStream}, nil)
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.f.Status()
	if s.Stream == "" {
		return // not known before the store is read
	}
	emit := func(name string, kind prometheus.ValueType, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], kind, v, s.Stream)
	}
	if s.Applied != "" {
		emit(metricApplied, prometheus.GaugeValue, float64(s.AppliedTime.Unix()))
		emit(metricLag, prometheus.GaugeValue, s.LagSeconds)
	}
	if s.StoreNewestEnd != "" {
		emit(metricStoreEnd, prometheus.GaugeValue, float64(s.StoreNewestEndTime.Unix()))
	}
	if !s.CheckpointCommitted.IsZero() {
		emit(metricCkptAge, prometheus.GaugeValue, s.CheckpointAgeSeconds)
	}
	emit(metricDelay, prometheus.GaugeValue, c.f.opts.Delay.Seconds())
	emit(metricEntries, prometheus.CounterValue, float64(s.EntriesApplied))
	emit(metricSegments, prometheus.CounterValue, float64(s.SegmentsApplied))
	emit(metricErrors, prometheus.CounterValue, float64(s.ApplyErrors))
	emit(metricOpenTxns, prometheus.GaugeValue, float64(s.OpenTxns))
	ready := 0.0
	if s.Ready {
		ready = 1
	}
	emit(metricReady, prometheus.GaugeValue, ready)
}
