package shred

import (
	"context"
	"errors"
	"testing"
	"time"
)

// forEach reports each item as soon as it is done, not once all are:
// run one at a time, the second item waits for the report of the first.
// Before, the reports came after every item had run, so a bulk command's
// bar stood still until the end.
func TestForEachReportsAsItemsAreDone(t *testing.T) {
	reported := make(chan int, 2)
	_, failed := forEach(context.Background(), []string{"a", "b"}, 1, func(done, _ int) { reported <- done }, func(_ context.Context, id string) error {
		if id != "b" {
			return nil
		}
		select {
		case <-reported:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the first item was not reported before the second ran")
		}
	})
	if len(failed) > 0 {
		t.Fatal(failed[0])
	}
}
