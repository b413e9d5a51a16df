package kafkastore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tidelog/tidelog/store"
)

// topicConfigs are set on every topic the store creates. Kafka's defaults
// would delete a backup after seven days (retention.ms) or compact it away
// by key; the store's records leave only by DeleteRecords, after a delete.
func (s *Store) topicConfigs() map[string]*string {
	c := map[string]*string{
		"cleanup.policy":  kadm.StringPtr("delete"),
		"retention.ms":    kadm.StringPtr("-1"),
		"retention.bytes": kadm.StringPtr("-1"),
	}
	if s.cfg.MinInsyncReplicas > 0 {
		c["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(s.cfg.MinInsyncReplicas))
	}
	return c
}

// ensureTopic makes stream's topic ready for writing: it creates it with one
// partition, or, if it exists, checks that it is a topic of this store (one
// partition, only tidelog frames) by reading it into the index, so tidelog
// never writes into something else. A client without the right to create
// topics may still write into topics created for it. The result is
// remembered per process.
func (s *Store) ensureTopic(ctx context.Context, stream string) error {
	topic := s.topic(stream)
	s.mu.Lock()
	ready := s.ready[topic]
	s.mu.Unlock()
	if ready {
		return nil
	}
	_, err := s.adm.CreateTopic(ctx, 1, s.cfg.ReplicationFactor, s.topicConfigs(), topic)
	if err != nil {
		if err := s.checkExisting(ctx, stream, err); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.ready[topic] = true
	s.mu.Unlock()
	return nil
}

// checkExisting checks a topic that could not be created because it exists
// (or, with createErr an authorization error, may exist) by reading it into
// the index; it returns createErr if the topic is not there after all.
func (s *Store) checkExisting(ctx context.Context, stream string, createErr error) error {
	topic := s.topic(stream)
	denied := errors.Is(createErr, kerr.TopicAuthorizationFailed) || errors.Is(createErr, kerr.ClusterAuthorizationFailed)
	if !errors.Is(createErr, kerr.TopicAlreadyExists) && !denied {
		return fmt.Errorf("create topic %s: %w", topic, createErr)
	}
	ix := s.index(stream)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if denied {
		o, err := s.listOffsets(ctx, topic)
		if err != nil {
			return err
		}
		if !o.exists {
			return fmt.Errorf("create topic %s: %w", topic, createErr)
		}
	}
	return s.refresh(ctx, ix)
}

// offsets are the bounds of a topic's partition: records [start, end) can be
// read.
type offsets struct {
	start, end int64
	exists     bool
}

// listOffsets returns topic's log start offset and high watermark. A
// missing topic is not an error (exists is false); a topic with more than
// one partition is not a store's: its order would not be total.
func (s *Store) listOffsets(ctx context.Context, topic string) (offsets, error) {
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return offsets{}, fmt.Errorf("topic %s: start offsets: %w", topic, err)
	}
	parts := 0
	for p := range starts[topic] {
		if p >= 0 {
			parts++
		}
	}
	if parts > 1 {
		return offsets{}, fmt.Errorf("topic %s has %d partitions, a tidelog topic exactly one (the order of a replica set must be total): %w",
			topic, parts, store.ErrNotStore)
	}
	start, ok := starts.Lookup(topic, 0)
	if !ok {
		return offsets{}, nil
	}
	if start.Err != nil {
		return offsets{}, fmt.Errorf("topic %s: start offset: %w", topic, start.Err)
	}
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return offsets{}, fmt.Errorf("topic %s: end offsets: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok {
		return offsets{}, fmt.Errorf("topic %s: no end offset of partition 0", topic)
	}
	if end.Err != nil {
		return offsets{}, fmt.Errorf("topic %s: end offset: %w", topic, end.Err)
	}
	return offsets{start: start.Offset, end: end.Offset, exists: true}, nil
}
