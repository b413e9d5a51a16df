package kafkastore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tidelog/tidelog/store"
)

// Errors name the store, the operation and the object, and wrap the cause.
func TestErrorsCarryContext(t *testing.T) {
	c := newCluster(t)
	s := openStore(t, testConfig(c))
	_, err := s.OpenSegment(testCtx(t), "rs0", segName(1))
	if !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("OpenSegment of a missing segment = %v, want ErrNotExist", err)
	}
	for _, want := range []string{"kafka " + c.ListenAddrs()[0] + "/tidelog", "open segment", "rs0/" + segName(1)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
}

// Names that are not valid are refused before anything is created.
func TestInvalidNames(t *testing.T) {
	s := openStore(t, testConfig(newCluster(t)))
	ctx := testCtx(t)
	for _, stream := range []string{"", ".", "..", "a/b", "rs 0", "rs:0", strings.Repeat("r", 250)} {
		if err := s.PutSegment(ctx, stream, segName(1), []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid stream name") {
			t.Errorf("PutSegment(stream %q) = %v, want invalid stream name", stream, err)
		}
	}
	for _, name := range []string{"", ".tseg", "x", "a/b.tseg", ".hidden.tseg"} {
		if err := s.PutSegment(ctx, "rs0", name, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid segment name") {
			t.Errorf("PutSegment(name %q) = %v, want invalid segment name", name, err)
		}
	}
	topics, err := s.adm.ListTopics(ctx)
	if err != nil || len(topics) != 0 {
		t.Fatalf("topics after refused puts: %v, %v; want none", topics.Names(), err)
	}
}

// Open fails, within its context, when no broker answers.
func TestOpenWithoutBroker(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "no broker answers") {
		t.Fatalf("Open without a broker = %v, want an error", err)
	}
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("Open without brokers accepted")
	}
}
