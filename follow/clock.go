package follow

import "time"

// Clock tells the time a --delay, the lag and the checkpoint's age are
// measured against, and stamps commits. Tests inject one to move time
// without sleeping.
type Clock interface {
	Now() time.Time
}

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
