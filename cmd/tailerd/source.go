package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/topology"
)

// deployment is what tailerd follows: the replica sets found from --source
// (kept current by a Watcher for a cluster) or listed with --member.
type deployment struct {
	watcher *topology.Watcher // nil for a --member list
	first   topology.Topology
	seed    string // --source, used as given for a lone replica set
}

// openSource reads the deployment's topology once. It must succeed: with
// no replica set known there is nothing to capture.
func openSource(ctx context.Context, cfg config, log zerolog.Logger) (*deployment, error) {
	if len(cfg.Members) > 0 {
		t, err := cfg.staticTopology()
		if err != nil {
			return nil, err
		}
		return &deployment{first: t}, nil
	}
	w, err := topology.NewWatcher(ctx, cfg.Source, topology.Options{
		Assume: topology.Kind(cfg.SourceKind), Timeout: cfg.ConnectTimeout, Log: log,
	})
	if err != nil {
		return nil, err
	}
	d := &deployment{watcher: w, first: w.Topology(), seed: cfg.Source}
	if d.named() && cfg.Stream != "" {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return nil, errors.Join(fmt.Errorf("--stream %q names one replica set's stream, but the source is a %s with %d replica sets, each captured as the stream of its own name: drop --stream",
			cfg.Stream, d.first.Seed, len(d.first.ReplicaSets)), w.Close(cctx))
	}
	log.Info().Str("kind", string(d.first.Seed)).Strs("replica_sets", d.first.Names()).Msg("deployment discovered")
	return d, nil
}

// named says whether streams take the replica sets' names. A lone replica
// set found from --source keeps the rules it had before clusters: its
// stream is --stream, or the set name.
func (d *deployment) named() bool { return d.first.Seed != topology.KindReplicaSet }

// follow starts a pipeline for every replica set known now and, for a
// cluster, polls the topology every interval (0: never) so that added and
// removed shards are followed without a restart. The returned channel is
// closed once the watcher has stopped (after ctx ends) and disconnected.
func (d *deployment) follow(ctx context.Context, every time.Duration, apply func(topology.Changes), log zerolog.Logger) <-chan struct{} {
	done := make(chan struct{})
	sets := d.first.ReplicaSets
	if d.first.Seed == topology.KindReplicaSet {
		// The operator's URI exactly (directConnection, read preference...),
		// not the one rebuilt from hello's host list.
		sets[0].URI = d.seed
	}
	apply(topology.Changes{Added: sets})
	watch := d.watcher != nil && d.named() && every > 0
	go func() {
		defer close(done)
		if d.watcher == nil {
			return
		}
		if watch {
			err := d.watcher.Run(ctx, every, func(_ topology.Topology, c topology.Changes) { apply(c) })
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error().Err(err).Msg("topology watch stopped: added or removed shards are no longer noticed until tailerd restarts")
			}
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := d.watcher.Close(cctx); err != nil {
			log.Debug().Err(err).Msg("closing the topology connection")
		}
	}()
	return done
}

// sourceName is the source for log lines, without secrets.
func (c config) sourceName() string {
	if len(c.Members) == 0 {
		return topology.RedactURI(c.Source)
	}
	names := make([]string, len(c.Members))
	for i, m := range c.Members {
		names[i] = m.Name + "=" + topology.RedactURI(m.URI)
	}
	return strings.Join(names, ",")
}

// memberConfig is one replica set given by hand (--member or the config
// file's members list).
type memberConfig struct {
	Name string `yaml:"name"`
	URI  string `yaml:"uri"`
	Role string `yaml:"role"`
}

// memberFlags collects --member NAME=URI flags.
type memberFlags struct{ list *[]memberConfig }

func (f memberFlags) String() string {
	if f.list == nil {
		return ""
	}
	return fmt.Sprint(len(*f.list), " members")
}

// Set takes a malformed value too, without a name, for checkSource to
// refuse: an error here would have the flag package repeat the value, and
// with it the URI's password.
func (f memberFlags) Set(v string) error {
	name, uri, ok := strings.Cut(v, "=")
	if !ok {
		name, uri = "", v
	}
	*f.list = append(*f.list, memberConfig{Name: name, URI: uri})
	return nil
}

// checkSource checks --source, --member and what goes with them without
// contacting anything.
func (c config) checkSource() error {
	switch {
	case c.Source == "" && len(c.Members) == 0:
		return errors.New("--source is required (e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0, or a mongos), or --member NAME=URI for each replica set")
	case c.Source != "" && len(c.Members) > 0:
		return errors.New("--source and --member exclude each other: give a seed to discover from, or the list of replica sets")
	case len(c.Members) > 0 && c.Stream != "":
		return errors.New("--stream does not apply with --member: each member's NAME is its stream")
	case c.DiscoverEvery < 0:
		return fmt.Errorf("--discover-every %s: want 0 (never) or a positive duration", c.DiscoverEvery)
	}
	switch topology.Kind(c.SourceKind) {
	case topology.KindAuto, topology.KindMongos, topology.KindConfigServer, topology.KindReplicaSet:
	default:
		return fmt.Errorf("--source-kind %q: want mongos, configsvr or replset (or nothing: detected)", c.SourceKind)
	}
	uris := []string{c.Source}
	if len(c.Members) > 0 {
		uris = uris[:0]
		for _, m := range c.Members {
			if m.Name == "" || m.URI == "" {
				return errors.New("members: each needs a name and a uri: want NAME=URI, e.g. shard1=mongodb://h1:27018/?replicaSet=shard1")
			}
			uris = append(uris, m.URI)
		}
	}
	for _, u := range uris {
		if err := topology.ValidateURI(u); err != nil {
			return fmt.Errorf("%s is not a valid MongoDB URI (e.g. mongodb://host:27017/?replicaSet=rs0): %w", topology.RedactURI(u), err)
		}
	}
	if len(c.Members) > 0 {
		if _, err := c.staticTopology(); err != nil {
			return err
		}
	}
	return nil
}

// staticTopology is the --member list as a topology; each name must be a
// valid stream name, since it becomes one.
func (c config) staticTopology() (topology.Topology, error) {
	members := make([]topology.Member, len(c.Members))
	for i, m := range c.Members {
		if err := store.ValidStream(m.Name); err != nil {
			return topology.Topology{}, fmt.Errorf("member %s: %w", m.Name, err)
		}
		members[i] = topology.Member{Name: m.Name, URI: m.URI, Role: topology.Role(m.Role)}
	}
	return topology.Static(members)
}
