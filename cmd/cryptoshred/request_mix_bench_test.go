package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
)

// BenchmarkShredRunRequestMix counts the Vault requests a whole `shred
// run` process makes per backup, by operation and path, from a file audit
// device on a dev server (CLI_MIX_N backups, default 1,000, through a
// backup-admin token): what its ratio to the delete + read-back ceiling,
// two requests per backup, comes from.
func BenchmarkShredRunRequestMix(b *testing.B) {
	n := benchN("CLI_MIX_N", 1000)
	for range b.N {
		b.StopTimer()
		srv := vaulttest.Start(b)
		dir := b.TempDir()
		admin := benchCase(b, srv, dir, "MIX", n)
		logPath := filepath.Join(dir, "vault-audit.log")
		if err := srv.Root(b).Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
			Type: "file", Options: map[string]string{"file_path": logPath}}); err != nil {
			b.Fatal(err)
		}
		files := newRunFiles(b, dir)
		b.StartTimer()
		timeCommand(b, child(srv, admin, files.args("MIX")...))
		b.StopTimer()
		mix, err := requestMix(logPath)
		if err != nil {
			b.Fatal(err)
		}
		printMix(mix, n)
	}
}

// runFiles are the signing key and the attestation of a benchmark's
// `shred run`.
type runFiles struct{ key, out string }

// newRunFiles makes a signing key pair in dir.
func newRunFiles(tb testing.TB, dir string) runFiles {
	f := runFiles{key: filepath.Join(dir, "signer"), out: filepath.Join(dir, "att.dsse.json")}
	if err := attest.WriteKeyPair(f.key+".key", f.key+".pub", attest.ECDSAP256, nil); err != nil {
		tb.Fatal(err)
	}
	return f
}

// args returns the arguments of `shred run` for caseID.
func (f runFiles) args(caseID string) []string {
	return []string{"shred", "run", "--case", caseID, "--yes", "--sign-key", f.key + ".key",
		"--vault-snapshot-retention", "720h", "-o", f.out}
}

// anyID matches what varies from one backup, digest, ledger slot or
// attestation to the next in a request path.
var anyID = regexp.MustCompile(`bk-[0-9a-z]{26}|att-[0-9a-z]{26}|[0-9a-f]{64}|\b[0-9]{12}\b`)

// requestMix counts the requests of a Vault audit log by operation and
// path, with ids replaced by "*".
func requestMix(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mix := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string
			Request struct{ Operation, Path string }
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("failed to parse audit log line: %w", err)
		}
		if e.Type == "request" {
			mix[e.Request.Operation+" "+anyID.ReplaceAllString(e.Request.Path, "*")]++
		}
	}
	return mix, sc.Err()
}

func printMix(mix map[string]int, n int) {
	kinds := slices.SortedFunc(maps.Keys(mix), func(a, b string) int { return cmp.Or(mix[b]-mix[a], cmp.Compare(a, b)) })
	total := 0
	for _, k := range kinds {
		total += mix[k]
		if float64(mix[k])/float64(n) >= 0.01 {
			fmt.Printf("%6.2f per backup  %s\n", float64(mix[k])/float64(n), k)
		}
	}
	fmt.Printf("shred run of %d backups: %d Vault requests, %.2f per backup (the delete + read-back ceiling makes 2)\n", n, total, float64(total)/float64(n))
}
