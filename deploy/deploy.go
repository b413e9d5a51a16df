// Package deploy holds what running tidelog needs besides the binaries:
// systemd units (systemd/), an annotated tailerd config (tailerd.yaml),
// Prometheus alert rules (prometheus/) and a Grafana dashboard (grafana/).
// Its tests check them: the units with systemd-analyze verify, the rules
// with promtool (scripts/promtool.sh) and against the metrics the daemons
// export, the dashboard's JSON and metric names, and the Dockerfile's build.
package deploy

// TailerdMetrics are the series tailerd exports (cmd/tailerd's tests check
// this list against a scrape of its registry).
var TailerdMetrics = []string{
	"tidelog_capture_bytes_total",
	"tidelog_capture_captured_timestamp_seconds",
	"tidelog_capture_checkpoint_age_seconds",
	"tidelog_capture_durable_timestamp_seconds",
	"tidelog_capture_entries_total",
	"tidelog_capture_gaps_detected_total",
	"tidelog_capture_lag_entries",
	"tidelog_capture_lag_seconds",
	"tidelog_capture_oplog_headroom_seconds",
	"tidelog_capture_pipeline_restarts_total",
	"tidelog_capture_pipelines_failing",
	"tidelog_capture_pipelines_running",
	"tidelog_capture_read_errors_total",
	"tidelog_capture_recheck_holds_total",
	"tidelog_capture_segments_total",
	"tidelog_capture_start_time_seconds",
	"tidelog_capture_store_errors_total",
	"tidelog_capture_stream_restarts_total",
	"tidelog_capture_up",
	"tidelog_snapshot_complete",
	"tidelog_snapshot_interval_seconds",
	"tidelog_snapshot_newest_age_seconds",
	"tidelog_snapshot_newest_timestamp_seconds",
	"tidelog_snapshots_failed_total",
	"tidelog_snapshots_taken_total",
	"tidelog_spool_bytes",
	"tidelog_spool_destination_failing",
	"tidelog_spool_destination_oldest_pending_age_seconds",
	"tidelog_spool_destination_pending_bytes",
	"tidelog_spool_items",
	"tidelog_spool_max_bytes",
	"tidelog_spool_paused",
}

// FollowMetrics are the series of `replayer follow` the rules and the
// dashboard use; follow mode defines them.
var FollowMetrics = []string{
	"tidelog_follow_apply_errors_total",
	"tidelog_follow_apply_lag_seconds",
	"tidelog_follow_delay_seconds",
}
