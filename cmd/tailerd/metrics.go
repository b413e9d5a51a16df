package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidelog/tidelog/store/spool"
)

// collector exposes tailerd's figures to Prometheus. It reads them at
// scrape time (the tailers' Stats, the spool's Status), so a series is never
// staler than the scrape, and nothing is counted twice.
type collector struct {
	get      func() *pipelines           // nil until capture has started
	spool    func() (spool.Status, bool) // nil or !ok: no spool
	interval func() time.Duration        // --snapshot-every as running (SIGHUP may change it), for the snapshot-age alert
	now      func() time.Time
}

var (
	streamLabels = []string{"stream", "role"}

	descCaptured = prometheus.NewDesc("tidelog_capture_captured_timestamp_seconds",
		"Oplog time of the last entry read from the source (seconds since the epoch).", streamLabels, nil)
	descDurable = prometheus.NewDesc("tidelog_capture_durable_timestamp_seconds",
		"Oplog time of the last entry stored and committed to the checkpoint (seconds since the epoch).", streamLabels, nil)
	descLag = prometheus.NewDesc("tidelog_capture_lag_seconds",
		"How far the durable position is behind the source's newest entry, by the entries' own clock.", streamLabels, nil)
	descLagEntries = prometheus.NewDesc("tidelog_capture_lag_entries",
		"Entries read from the source but not yet durable (stored and committed).", streamLabels, nil)
	descSegments = prometheus.NewDesc("tidelog_capture_segments_total",
		"Segments stored since the pipeline started.", streamLabels, nil)
	descEntries = prometheus.NewDesc("tidelog_capture_entries_total",
		"Oplog entries stored since the pipeline started.", streamLabels, nil)
	descBytes = prometheus.NewDesc("tidelog_capture_bytes_total",
		"Compressed segment bytes stored since the pipeline started.", streamLabels, nil)
	descStoreErrors = prometheus.NewDesc("tidelog_capture_store_errors_total",
		"Failed store writes (each retry counts) since the pipeline started.", streamLabels, nil)
	descReadErrors = prometheus.NewDesc("tidelog_capture_read_errors_total",
		"Failed oplog reads since the pipeline started.", streamLabels, nil)
	descRecheckHolds = prometheus.NewDesc("tidelog_capture_recheck_holds_total",
		"Times poll mode held capture back because its recheck range was full (nothing is skipped; capture lags).", streamLabels, nil)
	descCheckpointAge = prometheus.NewDesc("tidelog_capture_checkpoint_age_seconds",
		"Time since the durable position last advanced (absent before the first commit since tailerd started).", streamLabels, nil)
	descHeadroom = prometheus.NewDesc("tidelog_capture_oplog_headroom_seconds",
		"About how long capture could stop before the source's oplog rolls past the durable position (absent before the first probe of the oplog).", streamLabels, nil)
	descUp = prometheus.NewDesc("tidelog_capture_up",
		"1 when the stream's pipeline is connected and capturing, 0 while it connects or waits for a restart after a failure.", streamLabels, nil)
	descStreamRestarts = prometheus.NewDesc("tidelog_capture_stream_restarts_total",
		"Times the stream's pipeline was restarted after a failure.", streamLabels, nil)

	descRunning = prometheus.NewDesc("tidelog_capture_pipelines_running",
		"Pipelines (one per replica set) connected and capturing.", nil, nil)
	descFailing = prometheus.NewDesc("tidelog_capture_pipelines_failing",
		"Pipelines waiting for a restart after a failure.", nil, nil)
	descRestarts = prometheus.NewDesc("tidelog_capture_pipeline_restarts_total",
		"Pipelines restarted after a failure, all streams.", nil, nil)
	descGaps = prometheus.NewDesc("tidelog_capture_gaps_detected_total",
		"Gaps found in an oplog (history lost); tailerd stops with exit 3 right after.", nil, nil)
	descStart = prometheus.NewDesc("tidelog_capture_start_time_seconds",
		"When tailerd started (seconds since the epoch).", nil, nil)

	descSnapCount = prometheus.NewDesc("tidelog_snapshot_complete",
		"Complete snapshots of the stream in the store (checked every minute).", streamLabels, nil)
	descSnapNewest = prometheus.NewDesc("tidelog_snapshot_newest_timestamp_seconds",
		"When the stream's newest complete snapshot finished (seconds since the epoch; absent when it has none).", streamLabels, nil)
	descSnapAge = prometheus.NewDesc("tidelog_snapshot_newest_age_seconds",
		"Time since the stream's newest complete snapshot finished (absent when it has none).", streamLabels, nil)
	descSnapInterval = prometheus.NewDesc("tidelog_snapshot_interval_seconds",
		"--snapshot-every (0: snapshots only on demand).", nil, nil)
	descSnapsTaken = prometheus.NewDesc("tidelog_snapshots_taken_total",
		"Snapshots of the stream the backup cycle completed since tailerd started.", streamLabels, nil)
	descSnapsFailed = prometheus.NewDesc("tidelog_snapshots_failed_total",
		"Snapshots of the stream that failed since tailerd started (each is logged, \"snapshot failed\", and retried with backoff).", streamLabels, nil)

	descSpoolBytes = prometheus.NewDesc("tidelog_spool_bytes",
		"Bytes waiting in the spool for at least one store.", nil, nil)
	descSpoolMax = prometheus.NewDesc("tidelog_spool_max_bytes",
		"--spool-max-bytes: when this many bytes wait, capture pauses.", nil, nil)
	descSpoolItems = prometheus.NewDesc("tidelog_spool_items",
		"Segments and gap records waiting in the spool for at least one store.", nil, nil)
	descSpoolPaused = prometheus.NewDesc("tidelog_spool_paused",
		"1 while capture waits for room in the spool.", nil, nil)
	descSpoolDestBytes = prometheus.NewDesc("tidelog_spool_destination_pending_bytes",
		"Bytes in the spool the destination store does not have yet.", []string{"dest"}, nil)
	descSpoolDestAge = prometheus.NewDesc("tidelog_spool_destination_oldest_pending_age_seconds",
		"Age of the oldest item the destination store does not have yet (0: none).", []string{"dest"}, nil)
	descSpoolDestFailing = prometheus.NewDesc("tidelog_spool_destination_failing",
		"1 while publishing to the destination store fails.", []string{"dest"}, nil)
)

var allDescs = []*prometheus.Desc{
	descCaptured, descDurable, descLag, descLagEntries, descSegments, descEntries, descBytes, descStoreErrors,
	descReadErrors, descRecheckHolds, descCheckpointAge, descHeadroom, descUp, descStreamRestarts,
	descRunning, descFailing, descRestarts, descGaps, descStart,
	descSnapCount, descSnapNewest, descSnapAge, descSnapInterval, descSnapsTaken, descSnapsFailed,
	descSpoolBytes, descSpoolMax, descSpoolItems, descSpoolPaused, descSpoolDestBytes, descSpoolDestAge, descSpoolDestFailing,
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// started is when tailerd started, for tidelog_capture_start_time_seconds.
var started = time.Now()

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	p := c.get()
	if p == nil {
		p = &pipelines{} // not started yet: the daemon's series, at zero
	}
	running, failing := 0, 0
	for _, v := range p.views() {
		l := []string{v.stream(), string(v.rs.Role)}
		up := 0.0
		switch {
		case v.failed != nil:
			failing++
		case v.connected():
			running++
			up = 1
		}
		gauge(descUp, up, l...)
		counter(descStreamRestarts, float64(v.restarts), l...)
		if age, ok := v.checkpointAge(now); ok {
			gauge(descCheckpointAge, age.Seconds(), l...)
		}
		counter(descSnapsTaken, float64(v.snapsTaken), l...)
		counter(descSnapsFailed, float64(v.snapsFailed), l...)
		if !v.snaps.checked.IsZero() { // not looked yet: no figure rather than a false zero
			gauge(descSnapCount, float64(v.snaps.complete), l...)
			if !v.snaps.newest.IsZero() {
				gauge(descSnapNewest, unixSeconds(v.snaps.newest), l...)
				gauge(descSnapAge, max(now.Sub(v.snaps.newest).Seconds(), 0), l...)
			}
		}
		if !v.hasTailer {
			continue
		}
		s := v.stats
		if !s.Captured.IsZero() {
			gauge(descCaptured, float64(s.Captured.T), l...)
		}
		if !s.Durable.IsZero() {
			gauge(descDurable, float64(s.Durable.T), l...)
		}
		gauge(descLag, s.LagSeconds(), l...)
		gauge(descLagEntries, float64(s.Pending), l...)
		counter(descSegments, float64(s.Segments), l...)
		counter(descEntries, float64(s.Entries), l...)
		counter(descBytes, float64(s.Bytes), l...)
		counter(descStoreErrors, float64(s.StoreErrors), l...)
		counter(descReadErrors, float64(s.ReadErrors), l...)
		counter(descRecheckHolds, float64(s.RecheckHolds), l...)
		if h, ok := s.HeadroomSeconds(); ok {
			gauge(descHeadroom, h, l...)
		}
	}
	gauge(descRunning, float64(running))
	gauge(descFailing, float64(failing))
	counter(descRestarts, float64(p.restarts.Load()))
	counter(descGaps, float64(p.gaps.Load()))
	gauge(descStart, unixSeconds(started))
	if c.interval != nil {
		gauge(descSnapInterval, c.interval().Seconds())
	}
	if c.spool == nil {
		return
	}
	st, ok := c.spool()
	if !ok {
		return
	}
	gauge(descSpoolBytes, float64(st.Bytes))
	gauge(descSpoolMax, float64(st.MaxBytes))
	gauge(descSpoolItems, float64(st.Items))
	gauge(descSpoolPaused, boolFloat(!st.Paused.IsZero()))
	for _, d := range st.Dests {
		gauge(descSpoolDestBytes, float64(d.PendingBytes), d.Name)
		gauge(descSpoolDestAge, d.OldestAge.Seconds(), d.Name)
		gauge(descSpoolDestFailing, boolFloat(!d.FailingSince.IsZero()), d.Name)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
