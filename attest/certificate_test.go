package attest

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// certificateMust lists what every certificate of testStatement shows.
func certificateMust(st *Statement) []string {
	d := st.Predicate
	return []string{
		"Certificate of Sanitization", "NIST SP 800-88 Rev. 2", "Purge", "Cryptographic Erase",
		d.AttestationID, "Example Ministry", "Example Immigration Service",
		"Jane Admin", "userpass-jane", "9f1b6c2e-entity",
		"Example Data Protection Authority", "DPA-2021-0211", "J.nr. 2021-431-0001/closing letter", d.Case.Decision.Document.SHA256,
		"cryptoshred 0.1.0", "key read after delete", "not found",
		d.Backups[0].BackupID, d.Backups[1].BackupID, d.Backups[0].Subject, d.Backups[1].Subject,
		st.Subject[0].Digest["sha256"], st.Subject[1].Digest["sha256"],
		"health, biometric, criminal", "media sanitized", "sanitisation-certificate.pdf",
		"UNKNOWN: the unencrypted original is not accounted for",
		"2026-12-26 14:03:10 UTC", "2026-11-26 14:03:12 UTC", d.Ledger.Head,
	}
}

func TestRenderText(t *testing.T) {
	st := testStatement()
	var buf bytes.Buffer
	if err := RenderText(&buf, st, "SHA256:feedface"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range append(certificateMust(st), "SHA256:feedface") {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
			t.Errorf("text certificate lacks %q", s)
		}
	}
	buf.Reset()
	RenderText(&buf, st, "")
	if !strings.Contains(buf.String(), "NOT VERIFIED") {
		t.Error("unverified certificate does not say so")
	}
}

func TestRenderHTML(t *testing.T) {
	st := testStatement()
	st.Predicate.Controllers[0] = `Example Ministry <script>alert("x")</script>`
	var buf bytes.Buffer
	if err := RenderHTML(&buf, st, "SHA256:feedface"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range append(certificateMust(st), "&lt;script&gt;", "SHA256:feedface", "@media print", "size: A4") {
		if !strings.Contains(out, s) {
			t.Errorf("HTML certificate lacks %q", s)
		}
	}
	if strings.Contains(out, "<script") {
		t.Error("HTML certificate contains unescaped markup from the statement")
	}
	external := regexp.MustCompile(`(?i)(\b(src|href|action)\s*=|@import|url\(|<link|<script|<img)`)
	if m := external.FindString(out); m != "" {
		t.Errorf("HTML certificate loads external assets: %q", m)
	}
}

// chromium returns the headless browser the render test needs.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium: install Debian's package (apt-get install -y chromium) or set CHROMIUM_BIN")
	return ""
}

// renderInChromium loads html in headless Chromium and returns its output
// file for the given --print-to-pdf= or --screenshot= flag.
func renderInChromium(t *testing.T, html []byte, flag string, extra ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "certificate.html"), filepath.Join(dir, renderName[flag])
	if err := os.WriteFile(in, html, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), flag + out}, extra...)
	cmd := exec.CommandContext(ctx, chromium(t), append(args, "file://"+in)...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("chromium wrote nothing: %v", err)
	}
	keepRender(t, flag, b)
	return b
}

var renderName = map[string]string{"--print-to-pdf=": "certificate.pdf", "--screenshot=": "certificate.png"}

// keepRender copies a rendering to $ATTEST_RENDER_DIR, for a human to look at.
func keepRender(t *testing.T, flag string, b []byte) {
	if dir := os.Getenv("ATTEST_RENDER_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, renderName[flag]), b, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func TestCertificateInChromium(t *testing.T) {
	var html bytes.Buffer
	if err := RenderHTML(&html, testStatement(), "SHA256:feedface"); err != nil {
		t.Fatal(err)
	}
	pdf := renderInChromium(t, html.Bytes(), "--print-to-pdf=", "--no-pdf-header-footer")
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 20000 {
		t.Errorf("PDF is %d bytes starting %q", len(pdf), pdf[:min(len(pdf), 8)])
	}
	if !regexp.MustCompile(`/MediaBox \[0 0 59[45]\.\d+ 84[12]\.\d+\]`).Match(pdf) {
		t.Error("PDF pages are not A4")
	}
	shot := renderInChromium(t, html.Bytes(), "--screenshot=", "--window-size=1000,1400")
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	checkScreenshot(t, img)
}

// checkScreenshot checks that the page is mostly white paper with a fair
// amount of dark text, and shows the red warning for the unknown original.
func checkScreenshot(t *testing.T, img image.Image) {
	b := img.Bounds()
	var dark, red, total int
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			total++
			if r < 90 && g < 90 && bl < 90 {
				dark++
			}
			if r > 130 && g < 50 && bl < 50 {
				red++
			}
		}
	}
	if b.Dx() != 1000 || dark*100 < total || red*1000 < total {
		t.Errorf("screenshot %v: %d dark and %d red of %d sampled pixels; want a certificate with text and a red warning", b, dark, red, total)
	}
}
