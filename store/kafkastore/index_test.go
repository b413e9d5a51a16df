package kafkastore

import (
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchLog records the offsets of the fetch requests a cluster receives.
type fetchLog struct {
	mu      sync.Mutex
	offsets []int64
}

func (l *fetchLog) take() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := l.offsets
	l.offsets = nil
	return o
}

func watchFetches(c *kfake.Cluster) *fetchLog {
	l := new(fetchLog)
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, t := range req.(*kmsg.FetchRequest).Topics {
			for _, p := range t.Partitions {
				l.offsets = append(l.offsets, p.FetchOffset)
			}
		}
		return nil, nil, false // observe only
	})
	return l
}

// Listings read the topic once; later ones read only what was added since.
func TestIndexIsIncremental(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		if err := s.PutSegment(ctx, "rs0", segName(i), randomBytes(t, 100<<10)); err != nil {
			t.Fatal(err)
		}
	}
	fetches := watchFetches(c)
	if _, err := s.Segments(ctx, "rs0"); err != nil {
		t.Fatal(err)
	}
	if got := fetches.take(); len(got) == 0 || got[0] != 0 {
		t.Fatalf("first listing fetched from %v, want from offset 0", got)
	}
	if _, err := s.Segments(ctx, "rs0"); err != nil {
		t.Fatal(err)
	}
	if got := fetches.take(); len(got) != 0 {
		t.Fatalf("a listing with nothing new fetched from %v, want no fetch", got)
	}
	end := topicOffsets(t, s, "rs0").end
	if err := s.PutSegment(ctx, "rs0", segName(4), []byte("new")); err != nil {
		t.Fatal(err)
	}
	names, err := s.Segments(ctx, "rs0")
	if err != nil || len(names) != 4 {
		t.Fatalf("Segments = %q, %v", names, err)
	}
	if got := fetches.take(); len(got) == 0 || slices.Min(got) != end {
		t.Fatalf("listing after one more put fetched from %v, want from offset %d only", got, end)
	}
}
