// Package storagetest is the test suite every storage.Backend must pass.
// A back end's test calls Run with a function that returns a fresh
// back end and a destination to write under.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// NewFunc returns an empty back end and a destination in it.
type NewFunc func(t *testing.T) (b storage.Backend, dest string)

// Run runs every test of the suite against the back ends newBackend
// returns.
func Run(t *testing.T, newBackend NewFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Backend, string)
	}{
		{"RoundTrip", testRoundTrip},
		{"LargeStream", testLargeStream},
		{"CreateRefusesExisting", testCreateRefusesExisting},
		{"CommitRefusesExisting", testCommitRefusesExisting},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"AbortAfterCommitKeeps", testAbortAfterCommitKeeps},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"DeleteRefusedByCheck", testDeleteRefusedByCheck},
		{"MissingIsNotFound", testMissingIsNotFound},
		{"Find", testFind},
		{"LocateDistinct", testLocateDistinct},
		{"Properties", testProperties},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, dest := newBackend(t)
			tc.fn(t, b, dest)
		})
	}
}

func locate(t *testing.T, b storage.Backend, dest, name string) string {
	t.Helper()
	loc, err := b.Locate(dest, name)
	if err != nil {
		t.Fatalf("Locate(%q, %q): %v", dest, name, err)
	}
	return loc
}

// store writes data at a new location for name and returns it.
func store(t *testing.T, b storage.Backend, dest, name string, data []byte) string {
	t.Helper()
	loc := locate(t, b, dest, name)
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	defer up.Abort()
	if _, err := up.Write(data); err != nil {
		t.Fatalf("Write: %v", err)
	}
	final, err := up.Commit(context.Background())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return final
}

func read(t *testing.T, b storage.Backend, loc string) []byte {
	t.Helper()
	r, err := b.Open(context.Background(), loc)
	if err != nil {
		t.Fatalf("Open(%s): %v", loc, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", loc, err)
	}
	return data
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testRoundTrip(t *testing.T, b storage.Backend, dest string) {
	data := []byte("age-encryption.org/v1\n-> cryptoshred bk-1\n")
	loc := store(t, b, dest, "one.age", data)
	if got := read(t, b, loc); !bytes.Equal(got, data) {
		t.Fatalf("read back %q, wrote %q", got, data)
	}
	info, err := b.Stat(context.Background(), loc)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat: %+v %v, want size %d", info, err, len(data))
	}
}

func testLargeStream(t *testing.T, b storage.Backend, dest string) {
	data := randomBytes(t, 40<<20+17) // several S3 parts
	loc := locate(t, b, dest, "large.age")
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Abort()
	for chunk := range slices.Chunk(data, 64<<10+3) {
		if _, err := up.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	final, err := up.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, final); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
}

func testCreateRefusesExisting(t *testing.T, b storage.Backend, dest string) {
	loc := store(t, b, dest, "kept.age", []byte("first"))
	if up, err := b.Create(context.Background(), loc); err == nil {
		up.Abort()
		t.Fatal("Create over an existing ciphertext succeeded")
	}
	if got := read(t, b, loc); string(got) != "first" {
		t.Fatalf("existing ciphertext changed to %q", got)
	}
}

// testCommitRefusesExisting: two uploads to one location both pass
// Create before either commits (two protects to one name); the second
// commit fails with fs.ErrExist and the first object stays, whole.
func testCommitRefusesExisting(t *testing.T, b storage.Backend, dest string) {
	ctx := context.Background()
	loc := locate(t, b, dest, "raced.age")
	first, second := create(t, b, loc, "first"), create(t, b, loc, "second")
	final, err := first.Commit(ctx)
	if err != nil {
		t.Fatalf("first Commit: %v", err)
	}
	if got, err := second.Commit(ctx); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Commit onto the first: %q %v, want fs.ErrExist", got, err)
	}
	if got := read(t, b, loc); string(got) != "first" {
		t.Fatalf("the first object changed to %q", got)
	}
	if got := read(t, b, final); string(got) != "first" {
		t.Fatalf("the first object's location reads %q", got)
	}
}

// create starts an upload at loc and writes data to it.
func create(t *testing.T, b storage.Backend, loc, data string) storage.Upload {
	t.Helper()
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(up.Abort)
	if _, err := up.Write([]byte(data)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return up
}

func testAbortLeavesNothing(t *testing.T, b storage.Backend, dest string) {
	loc := locate(t, b, dest, "aborted.age")
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	up.Abort()
	if _, err := b.Stat(context.Background(), loc); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Stat after Abort: %v, want ErrNotFound", err)
	}
}

func testAbortAfterCommitKeeps(t *testing.T, b storage.Backend, dest string) {
	loc := locate(t, b, dest, "committed.age")
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("whole")); err != nil {
		t.Fatal(err)
	}
	final, err := up.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	up.Abort()
	if got := read(t, b, final); string(got) != "whole" {
		t.Fatalf("after Commit and Abort read %q", got)
	}
}

func testDelete(t *testing.T, b storage.Backend, dest string) {
	first := store(t, b, dest, "a.age", []byte("a"))
	second := store(t, b, dest, "b.age", []byte("b"))
	res := b.Delete(context.Background(), []storage.Object{{Loc: first, Check: accept}, {Loc: second, Check: accept}})
	if len(res) != 2 || res[0].Err != nil || res[1].Err != nil || len(res[0].Removed) == 0 {
		t.Fatalf("Delete: %+v", res)
	}
	for _, loc := range []string{first, second} {
		if _, err := b.Stat(context.Background(), loc); err == nil {
			t.Fatalf("%s still there after Delete", loc)
		}
	}
}

func testDeleteMissing(t *testing.T, b storage.Backend, dest string) {
	kept := store(t, b, dest, "kept.age", []byte("kept"))
	missing := locate(t, b, dest, "never-written.age")
	got := b.Delete(context.Background(), []storage.Object{{Loc: missing, Check: accept}})
	if len(got) != 1 || !errors.Is(got[0].Err, errs.ErrNotFound) {
		t.Fatalf("Delete of a missing ciphertext: %v, want ErrNotFound", got)
	}
	if string(read(t, b, kept)) != "kept" {
		t.Fatal("deleting a missing ciphertext touched another")
	}
}

func accept(io.Reader) error { return nil }

// testDeleteRefusedByCheck: an object its check rejects stays, whole.
func testDeleteRefusedByCheck(t *testing.T, b storage.Backend, dest string) {
	loc := store(t, b, dest, "held.age", []byte("age-encryption.org/v1\n-> cryptoshred bk-held\n"))
	reject := func(r io.Reader) error {
		head := make([]byte, 12)
		if _, err := io.ReadFull(r, head); err != nil || string(head) != "age-encrypti" {
			return errors.New("check did not see the object's first bytes")
		}
		return errors.New("names another key")
	}
	got := b.Delete(context.Background(), []storage.Object{{Loc: loc, Check: reject}})
	if len(got) != 1 || got[0].Err == nil || len(got[0].Removed) > 0 {
		t.Fatalf("Delete of a rejected object: %v, want a refusal", got)
	}
	if string(read(t, b, loc)) != "age-encryption.org/v1\n-> cryptoshred bk-held\n" {
		t.Fatal("a rejected object changed")
	}
}

// testFind: Find names the stored ciphertext its check accepts, nothing
// for one it rejects or one missing, and fails when the check could not
// read it (that says nothing of whose it is).
func testFind(t *testing.T, b storage.Backend, dest string) {
	ctx := context.Background()
	loc := store(t, b, dest, "found.age", []byte("found"))
	if got, err := b.Find(ctx, storage.Object{Loc: loc, Check: accept}); err != nil || len(got) != 1 {
		t.Fatalf("Find of a stored ciphertext: %v %v", got, err)
	}
	reject := func(io.Reader) error { return errors.New("names another key") }
	if got, err := b.Find(ctx, storage.Object{Loc: loc, Check: reject}); err != nil || len(got) != 0 {
		t.Fatalf("Find of a rejected ciphertext: %v %v, want nothing", got, err)
	}
	unread := func(io.Reader) error { return storage.ErrUnchecked }
	if got, err := b.Find(ctx, storage.Object{Loc: loc, Check: unread}); err == nil {
		t.Fatalf("Find of a ciphertext that could not be read: %v, want an error", got)
	}
	missing := locate(t, b, dest, "never-written.age")
	if got, err := b.Find(ctx, storage.Object{Loc: missing, Check: accept}); err != nil || len(got) != 0 {
		t.Fatalf("Find at a missing location: %v %v, want nothing", got, err)
	}
}

func testMissingIsNotFound(t *testing.T, b storage.Backend, dest string) {
	loc := locate(t, b, dest, "absent.age")
	if _, err := b.Open(context.Background(), loc); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Open of a missing ciphertext: %v, want ErrNotFound", err)
	}
	if _, err := b.Stat(context.Background(), loc); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("Stat of a missing ciphertext: %v, want ErrNotFound", err)
	}
}

func testLocateDistinct(t *testing.T, b storage.Backend, dest string) {
	if locate(t, b, dest, "x.age") == locate(t, b, dest, "y.age") {
		t.Fatal("two names located at the same place")
	}
	if locate(t, b, dest, "x.age") != locate(t, b, dest, "x.age") {
		t.Fatal("Locate is not repeatable")
	}
}

func testProperties(t *testing.T, b storage.Backend, _ string) {
	if b.Properties().Name == "" {
		t.Fatal("back end declares no name")
	}
}
