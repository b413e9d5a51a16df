package kafkastore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidelog/tidelog/store"
)

// Store is a store.Store in Kafka. It is safe for concurrent use; several
// Stores (in one process or many) may share one cluster and prefix, with
// the limits documented in docs/store-layout.md.
type Store struct {
	cfg   Config
	name  string      // String(), fixed at Open
	where string      // brokers/prefix, in errors: "kafka <where>: <op>: <cause>"
	sec   []kgo.Opt   // TLS and SASL, from cfg
	cl    *kgo.Client // producing and admin requests; consumers are made per read
	adm   *kadm.Client
	// staleAge is staleAttemptAge; tests shorten it to provoke a cut.
	staleAge time.Duration

	mu       sync.Mutex
	indexes  map[string]*topicIndex // by stream; guarded by mu
	ready    map[string]bool        // topics created or checked for writing; guarded by mu
	inflight map[string]bool        // attempts this process is writing; guarded by mu
}

var _ store.Store = (*Store)(nil)

// Open connects to the cluster of cfg and returns the store. It checks that
// a broker answers, so that a wrong address fails here rather than at the
// first put; topics are created on the first write to a stream.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	where := strings.TrimPrefix(cfg.String(), "kafka:")
	sec, err := cfg.securityOpts()
	if err != nil {
		return nil, fmt.Errorf("kafka %s: %w", where, err)
	}
	s := &Store{
		cfg:      cfg,
		name:     cfg.String(),
		where:    where,
		sec:      sec,
		staleAge: staleAttemptAge,
		indexes:  make(map[string]*topicIndex),
		ready:    make(map[string]bool),
		inflight: make(map[string]bool),
	}
	opts := append(s.connOpts(),
		// Durability is not configurable: every frame waits for all
		// in-sync replicas, and the idempotent producer (franz-go's
		// default, never disabled here) keeps retries from reordering
		// or duplicating frames.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxMessageBytes)),
		// Segments and snapshot files are lz4 already.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Every topic has one partition, 0, set on each record.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka %s: %w", s.where, err)
	}
	s.cl, s.adm = cl, kadm.NewClient(cl)
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		if hint := connProblem(err, cfg); hint != "" {
			return nil, fmt.Errorf("kafka %s: %s: %w", s.where, hint, err)
		}
		return nil, fmt.Errorf("kafka %s: no broker answers: %w", s.where, err)
	}
	return s, nil
}

// connOpts are the settings every client of the store shares: where the
// cluster is, who we are, and the caller's TLS, SASL and other options.
func (s *Store) connOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(s.cfg.Brokers...), kgo.ClientID(s.cfg.ClientID)}
	opts = append(opts, s.sec...)
	return append(opts, s.cfg.Opts...)
}

// Close releases the store's connections. Puts still waiting for an
// acknowledgement fail.
func (s *Store) Close() error {
	s.cl.Close()
	return nil
}

// String names the store, e.g. "kafka:k1:9092,k2:9092/tidelog".
func (s *Store) String() string { return s.name }

// errorf wraps err with the store and what was being done, e.g.
// "kafka k1:9092/tidelog: put segment rs0/x.tseg: ...".
func (s *Store) errorf(op string, err error) error {
	return fmt.Errorf("kafka %s: %s: %w", s.where, op, err)
}

// check returns ctx's error wrapped for op if ctx is done, and else the
// first non-nil validation error; every method calls it before any request.
func (s *Store) check(ctx context.Context, op string, errs ...error) error {
	if err := ctx.Err(); err != nil {
		return s.errorf(op, err)
	}
	for _, err := range errs {
		if err != nil {
			return s.errorf(op, err)
		}
	}
	return nil
}

// index returns the index of stream, made empty on first use.
func (s *Store) index(stream string) *topicIndex {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indexes[stream]
	if ix == nil {
		ix = newTopicIndex(s.topic(stream))
		s.indexes[stream] = ix
	}
	return ix
}

// track marks attempt as being written by this process until the returned
// func is called, so that freeing a prefix never cuts into it however slow
// it is.
func (s *Store) track(attempt string) (done func()) {
	s.mu.Lock()
	s.inflight[attempt] = true
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.inflight, attempt)
		s.mu.Unlock()
	}
}

func (s *Store) isInflight(attempt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[attempt]
}
