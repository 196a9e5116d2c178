package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

const (
	stageBlockSize = 1 << 20
	stageBlocks    = 8
)

// asyncStage is an io.WriteCloser that copies what it is given into
// blocks and hands them to a goroutine, so hashing and writing run on
// another core while the caller encrypts. Memory is bounded by
// stageBlocks blocks.
type asyncStage struct {
	cur   []byte
	full  chan []byte
	free  chan []byte
	done  chan error
	err   error
	write func([]byte) error
}

func newAsyncStage(write func([]byte) error) *asyncStage {
	s := &asyncStage{full: make(chan []byte, stageBlocks), free: make(chan []byte, stageBlocks),
		done: make(chan error, 1), write: write}
	for range stageBlocks {
		s.free <- make([]byte, 0, stageBlockSize)
	}
	go s.run()
	return s
}

func (s *asyncStage) run() {
	var err error
	for blk := range s.full {
		if err == nil {
			err = s.write(blk)
		}
		s.free <- blk[:0]
	}
	s.done <- err
}

// Write implements io.Writer. It never fails: a consumer error is
// reported by Close.
func (s *asyncStage) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.cur == nil {
			s.cur = <-s.free
		}
		k := copy(s.cur[len(s.cur):cap(s.cur)], p)
		s.cur, p = s.cur[:len(s.cur)+k], p[k:]
		if len(s.cur) == cap(s.cur) {
			s.full <- s.cur
			s.cur = nil
		}
	}
	return n, nil
}

// Feed reads src in blocks, writes each to w, then queues the same block
// for the goroutine: the plaintext is hashed without being copied again.
func (s *asyncStage) Feed(src io.Reader, w io.Writer) error {
	for {
		blk := (<-s.free)[:stageBlockSize]
		n, err := io.ReadFull(src, blk)
		if n > 0 {
			if _, werr := w.Write(blk[:n]); werr != nil {
				s.free <- blk[:0]
				return werr
			}
		}
		s.full <- blk[:n]
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// Close flushes the last block, waits for the goroutine and returns the
// first error it met. It must be called exactly once.
func (s *asyncStage) Close() error {
	if len(s.cur) > 0 {
		s.full <- s.cur
	}
	close(s.full)
	return <-s.done
}

// AsyncDigest hashes (and optionally forwards) a stream on its own
// goroutine and counts its bytes.
type AsyncDigest struct {
	*asyncStage
	h hash.Hash
	N int64
}

// NewAsyncDigest returns a digesting stage that also writes to w, if w is
// not nil.
func NewAsyncDigest(w io.Writer) *AsyncDigest {
	d := &AsyncDigest{h: sha256.New()}
	d.asyncStage = newAsyncStage(func(b []byte) error {
		d.h.Write(b)
		d.N += int64(len(b))
		if w == nil {
			return nil
		}
		_, err := w.Write(b)
		return err
	})
	return d
}

// Sum returns the hex SHA-256; call it only after Close.
func (d *AsyncDigest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }
