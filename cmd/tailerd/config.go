package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// fileConfig is the YAML config file; every key has a flag of the same
// meaning, and a flag given on the command line wins over the file.
type fileConfig struct {
	Source         string          `yaml:"source"`
	SourceKind     string          `yaml:"source_kind"`
	Members        []memberConfig  `yaml:"members"`
	DiscoverEvery  time.Duration   `yaml:"discover_every"`
	Store          string          `yaml:"store"`
	Checkpoint     string          `yaml:"checkpoint"`
	PublishTo      []publishConfig `yaml:"publish_to"`
	Spool          string          `yaml:"spool"`
	SpoolMaxBytes  int64           `yaml:"spool_max_bytes"`
	Stream         string          `yaml:"stream"`
	Start          string          `yaml:"start"`
	Cursor         string          `yaml:"cursor"`
	CutBytes       int             `yaml:"cut_bytes"`
	CutAge         time.Duration   `yaml:"cut_age"`
	ConnectTimeout time.Duration   `yaml:"connect_timeout"`
	LogLevel       string          `yaml:"log_level"`
	AcceptGap      bool            `yaml:"accept_gap"`
	// Backup cycle.
	SnapshotEvery   time.Duration `yaml:"snapshot_every"`
	SnapshotWorkers int           `yaml:"snapshot_workers"`
	KeepSnapshots   int           `yaml:"keep_snapshots"`
	KeepFor         time.Duration `yaml:"keep_for"`
	Prune           bool          `yaml:"prune"`
	IncludeUsers    bool          `yaml:"include_users"`
}

func loadConfigFile(path string) (fileConfig, error) {
	var c fileConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored setting
	// An empty file decodes to io.EOF: it is a valid config with no settings.
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}
