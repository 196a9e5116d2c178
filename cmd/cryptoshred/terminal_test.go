package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stalledTerminal is a terminal stopped with Ctrl-S: every write waits
// until resume is closed.
type stalledTerminal struct {
	resume chan struct{}
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (s *stalledTerminal) Write(p []byte) (int, error) {
	<-s.resume
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// TestBarNeverStallsTheWorkers: while the terminal takes no output, the
// workers that report progress go on; once it resumes, the bar never
// steps back to a count that arrived late but is lower.
func TestBarNeverStallsTheWorkers(t *testing.T) {
	term := &stalledTerminal{resume: make(chan struct{})}
	update, finish := countBar(term, "shredding", time.Millisecond)
	const workers, each = 16, 100
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					update(w*each+i+1, workers*each)
					time.Sleep(10 * time.Microsecond) // lets the bar's goroutine draw, and block, meanwhile
				}
			})
		}
		wg.Wait()
		update(7, workers*each) // a count that arrives late
	}()
	select {
	case <-reported:
	case <-time.After(10 * time.Second):
		t.Fatal("the workers stalled on a terminal that takes no output")
	}
	close(term.resume)
	finish()
	got := term.buf.String()
	counts := regexp.MustCompile(`\((\d+)/1600`).FindAllStringSubmatch(got, -1)
	if len(counts) < 2 || !strings.Contains(got, "shredding") {
		t.Fatalf("no bar drawn: %q", got)
	}
	for i, last := 0, 0; i < len(counts); i++ {
		n, _ := strconv.Atoi(counts[i][1])
		if n < last {
			t.Fatalf("bar stepped back from %d to %d: %q", last, n, got)
		}
		last = n
	}
}

// TestBarThatNeverStartedDrawsNothing: a command that reports no progress
// (nothing to do) leaves the terminal as it was.
func TestBarThatNeverStartedDrawsNothing(t *testing.T) {
	var buf bytes.Buffer
	_, finish := countBar(&buf, "planning", time.Millisecond)
	finish()
	if buf.Len() != 0 {
		t.Fatalf("drew %q", buf.String())
	}
}
