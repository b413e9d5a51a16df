package kafkastore

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordSource reads partition 0 of one topic in offset order, from a given
// offset. Each read (an index refresh, an open object) has its own source,
// and so its own client and position, so reads never disturb each other.
type recordSource struct {
	cl      *kgo.Client
	pending []*kgo.Record
}

// openSource starts reading topic at offset from. If records there were
// deleted (DeleteRecords moved the log start past them), next fails with
// kerr.OffsetOutOfRange instead of silently skipping ahead.
func (s *Store) openSource(topic string, from int64) (*recordSource, error) {
	opts := append(s.connOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		// At least one whole frame per fetch; Kafka returns a larger
		// batch whole anyway.
		kgo.FetchMaxPartitionBytes(int32(max(s.cfg.MaxMessageBytes, 1<<20))),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("topic %s: consumer: %w", topic, err)
	}
	return &recordSource{cl: cl}, nil
}

// next returns the next record. It waits for one to arrive, so callers ask
// only for records below a high watermark they listed, and ctx bounds it.
func (rs *recordSource) next(ctx context.Context) (*kgo.Record, error) {
	for len(rs.pending) == 0 {
		fetches := rs.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fetches.EachError(func(topic string, _ int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("topic %s: fetch: %w", topic, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		rs.pending = fetches.Records()
	}
	r := rs.pending[0]
	rs.pending = rs.pending[1:]
	return r, nil
}

// close ends the source's client.
func (rs *recordSource) close() { rs.cl.Close() }
