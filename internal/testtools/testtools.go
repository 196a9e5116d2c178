// Package testtools finds the pinned external programs the tests run
// (the Vault server, cosign, age, timestamp-server, versitygw) and holds
// what the starters of those servers share (free ports, their output). It
// imports only the standard library, so any package's tests may use it.
package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CacheDir is where the Makefile's tools/*.sh scripts put pinned tools:
// $CRYPTOSHRED_CACHE, else the user cache directory's cryptoshred folder.
func CacheDir() string {
	if dir := os.Getenv("CRYPTOSHRED_CACHE"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "cryptoshred")
}

// Find returns the program name at version: $env, the cache that
// tools/ensure-tool.sh fills, $(go env GOPATH)/bin, then PATH. Without one
// the test fails with install, never skips.
func Find(t testing.TB, env, name, version, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, p := range []string{filepath.Join(CacheDir(), "bin", version, name), filepath.Join(gopath(), "bin", name)} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("no %s %s binary: set %s, or run %s", name, version, env, install)
	return ""
}

func gopath() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
