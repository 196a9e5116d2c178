package fsutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An unnamed file is kept only where /proc shows it as itself: a missing
// proc directory, or one whose entry is another file, makes Create fall
// back to a named temporary file instead of writing an output Commit
// could not link.
func TestUnnamedFileOnlyWhereProcNamesIt(t *testing.T) {
	dir := t.TempDir()
	f := openAnonymousVia(dir, procSelfFD)
	if f == nil {
		t.Fatalf("no unnamed file in %s with /proc mounted", dir)
	}
	defer f.Close()
	fake := filepath.Join(dir, "fake-fd")
	if err := os.Mkdir(fake, 0o700); err != nil {
		t.Fatal(err)
	}
	for fd := 0; fd < 256; fd++ {
		_ = os.WriteFile(filepath.Join(fake, fmt.Sprint(fd)), nil, 0o600)
	}
	for _, procFD := range []string{filepath.Join(dir, "no-proc"), fake} {
		if g := openAnonymousVia(dir, procFD); g != nil {
			g.Close()
			t.Errorf("unnamed file kept with %s as /proc/self/fd", procFD)
		}
	}
}

// noProcChild names the environment variable that makes
// TestAtomicFileWithoutProc the child, run with nothing mounted on /proc.
const noProcChild = "CRYPTOSHRED_FSUTIL_NO_PROC_CHILD"

// Without /proc (a chroot, a sandbox) CheckCreatable and Commit agree: the
// output is written through a named temporary file. The test re-runs
// itself under unshare in a mount namespace (and a user namespace, so it
// needs no root) with an empty tmpfs over /proc.
func TestAtomicFileWithoutProc(t *testing.T) {
	if os.Getenv(noProcChild) != "" {
		writeWithoutProc(t)
		return
	}
	cmd := exec.Command("unshare", "-rm", "sh", "-c", `mount -t tmpfs none /proc && exec "$@"`, "sh",
		os.Args[0], "-test.run=^TestAtomicFileWithoutProc$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), noProcChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "written without /proc") {
		t.Fatalf("child without /proc: %v\n%s", err, out)
	}
}

func writeWithoutProc(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err == nil {
		t.Fatal("child still sees /proc/self")
	}
	name := filepath.Join(t.TempDir(), "att.json")
	if err := CheckCreatable(name); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(name, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, []byte("x")) {
		t.Fatalf("read back %q, %v", got, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(name)); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	t.Log("written without /proc")
}
