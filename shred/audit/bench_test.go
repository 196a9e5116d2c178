package audit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// BenchmarkAuditLog streams a synthetic audit log of AUDIT_BENCH_MB
// megabytes (default 256) from a file and reports lines per second, MB
// per second and the process's peak RSS. One line in 100 is a backup key
// decrypt (request and response); the rest are KV reads and writes, as
// cryptoshred's own traffic makes them.
func BenchmarkAuditLog(b *testing.B) {
	mb := 256
	if s := os.Getenv("AUDIT_BENCH_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	path, lines := writeBenchLog(b, int64(mb)<<20)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rep := readBenchLog(b, path)
		elapsed := time.Since(start)
		if rep.Log.Lines != lines {
			b.Fatalf("read %d lines, wrote %d", rep.Log.Lines, lines)
		}
		rate := float64(lines) / elapsed.Seconds()
		b.ReportMetric(rate, "lines/s")
		b.ReportMetric(float64(mb)/elapsed.Seconds(), "MB/s")
		b.ReportMetric(float64(peakRSS()), "peak-RSS-KiB")
		fmt.Printf("audit log: %d MiB, %d lines (%d unwraps, %d unaccounted) in %v = %.0f lines/s, %.0f MiB/s; peak RSS %d KiB\n",
			mb, lines, len(rep.Findings), rep.Unaccounted, elapsed.Round(time.Millisecond), rate,
			float64(mb)/elapsed.Seconds(), peakRSS())
	}
}

func readBenchLog(b *testing.B, path string) *Report {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	log := NewLog(testMounts, time.Time{})
	if err := log.Read(b.Context(), f); err != nil {
		b.Fatal(err)
	}
	return Reconcile(log, []*ledger.Entry{open(1, "bk-1", "token-a", "p", t0)}, Options{})
}

func writeBenchLog(b *testing.B, size int64) (string, int64) {
	path := filepath.Join(b.TempDir(), "audit.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written, lines int64
	for i := 0; written < size; i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		var text string
		if i%200 == 0 {
			text = pair(b, decrypt("d"+strconv.Itoa(i), "bk-"+strconv.Itoa(i%7), "token-a", at))
		} else {
			kv := entry{id: "k" + strconv.Itoa(i), path: "cryptoshred/data/backups/bk-" + strconv.Itoa(i), who: "token-a", at: at}
			kv.typ = TypeRequest
			text = string(vaultLine(b, kv)) + "\n"
		}
		n, _ := w.WriteString(text)
		written += int64(n)
		lines += int64(strings.Count(text, "\n"))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, lines
}

// peakRSS is the process's peak resident set size in KiB (Linux), 0
// elsewhere.
func peakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
