package chaos

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// profile is how hard a run pushes: how many of each fault, how long each
// lasts, how much is checked at the end.
type profile struct {
	name string

	kills          int // SIGKILLs of tailerd at random moments, at least
	sourceRestarts int
	storeOutages   int
	diskFulls      int
	rollovers      int

	// calm bounds the random pause between two faults; killAfter the
	// random delay before a kill (from the last start or event).
	calmMin, calmMax     time.Duration
	killAfterMax         time.Duration
	outageMin, outageMax time.Duration // how long MinIO stays down
	diskFullHold         time.Duration // how long the spool's disk stays full

	restores int // recorded timestamps restored and compared, at least

	writeRate  float64       // the writer's steady writes per second
	recordGap  time.Duration // mean time between two recorded states
	snapEvery  time.Duration // tailerd --snapshot-every
	catchUp    time.Duration // bound on capture catching up after a fault (hang detection)
	oplogMax   int64         // the source's capped oplog, in entries
	spoolFSMiB int           // size of the spool's small filesystem
}

var (
	shortProfile = profile{
		name: "short", kills: 5, sourceRestarts: 1, storeOutages: 1, diskFulls: 1, rollovers: 1,
		calmMin: 500 * time.Millisecond, calmMax: 2 * time.Second, killAfterMax: 4 * time.Second,
		outageMin: 4 * time.Second, outageMax: 6 * time.Second, diskFullHold: 4 * time.Second,
		restores: 4, writeRate: 25, recordGap: 2 * time.Second, snapEvery: 20 * time.Second,
		catchUp: 90 * time.Second, oplogMax: 2500, spoolFSMiB: 16,
	}
	fullProfile = profile{
		name: "full", kills: 60, sourceRestarts: 8, storeOutages: 5, diskFulls: 5, rollovers: 2,
		calmMin: time.Second, calmMax: 6 * time.Second, killAfterMax: 12 * time.Second,
		outageMin: 20 * time.Second, outageMax: 45 * time.Second, diskFullHold: 20 * time.Second,
		restores: 24, writeRate: 30, recordGap: 3 * time.Second, snapEvery: 45 * time.Second,
		catchUp: 3 * time.Minute, oplogMax: 4000, spoolFSMiB: 32,
	}
)

// runProfile picks the profile from CHAOS ("" or "short", "full") and the
// seed from CHAOS_SEED (default: the clock, printed so a run can be replayed).
func runProfile() (profile, uint64, error) {
	p := shortProfile
	switch v := os.Getenv("CHAOS"); v {
	case "", "short":
	case "full":
		p = fullProfile
	default:
		return p, 0, fmt.Errorf("CHAOS=%q: want short (or unset) or full", v)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return p, 0, fmt.Errorf("CHAOS_SEED=%q: want an unsigned integer", s)
		}
		seed = v
	}
	return p, seed, nil
}
