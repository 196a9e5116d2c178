package testtools

import (
	"errors"
	"time"
)

// ErrExited and ErrNoAnswer are why WaitReady gave up.
var (
	ErrExited   = errors.New("exited during start-up")
	ErrNoAnswer = errors.New("did not answer in time")
)

// WaitReady polls ready every 50 ms until it reports true, and returns
// ErrExited if done (closed when the server's process exits) closes
// first, or ErrNoAnswer once limit has passed.
func WaitReady(done <-chan struct{}, limit time.Duration, ready func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return ErrExited
		default:
		}
		if ready() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ErrNoAnswer
}
