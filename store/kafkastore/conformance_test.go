package kafkastore

import (
	"testing"

	"github.com/tidelog/tidelog/store"
	"github.com/tidelog/tidelog/store/storetest"
)

// TestConformance runs the store suite against a new fake cluster per
// subtest, with a broker message limit of 64 KiB so that every object above
// that (the suite's 2, 3 and 20 MiB ones) is framed.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openStore(t, testConfig(newCluster(t)))
	})
}
