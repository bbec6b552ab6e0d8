// Package doctest reads PDFs back in tests: their text, as poppler's
// pdftotext extracts it, and its barcodes, as zbarimg scans them, so a
// test checks what a reader or a scanner sees rather than the bytes gofpdf
// happens to write.
package doctest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Text returns the text of pdf, page by page in reading order. When
// pdftotext (poppler-utils) is not installed the test is skipped, except
// under CI=true, where it fails: CI must read every document it renders.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	bin := tool(t, "pdftotext", "poppler-utils")
	return string(run(t, pdf, bin, "-q", "-enc", "UTF-8", "-", "-"))
}

// Layout is Text as the page lays it out (pdftotext -layout): the words
// of one line on the page, such as a table's row or a row of boxes, on
// one line of text.
func Layout(t testing.TB, pdf []byte) string {
	t.Helper()
	bin := tool(t, "pdftotext", "poppler-utils")
	return string(run(t, pdf, bin, "-q", "-layout", "-enc", "UTF-8", "-", "-"))
}

// Symbologies zbarimg names, for Barcodes.
const (
	Code128 = "code128"
	QRCode  = "qrcode"
)

// Barcodes renders page (from 1) of pdf at 300 dpi with pdftoppm and
// returns what zbarimg reads in it of one symbology (Code128 or QRCode),
// one decoded text per symbol. Skipped as Text is when poppler-utils or
// zbar-tools is absent.
func Barcodes(t testing.TB, pdf []byte, page int, symbology string) []string {
	t.Helper()
	ppm, zbar := tool(t, "pdftoppm", "poppler-utils"), tool(t, "zbarimg", "zbar-tools")
	dir := t.TempDir()
	in, root := filepath.Join(dir, "doc.pdf"), filepath.Join(dir, "page")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(page)
	run(t, nil, ppm, "-r", "300", "-png", "-f", n, "-l", n, "-singlefile", in, root)
	// zbarimg exits 4 when it finds nothing; that is an empty answer.
	cmd := exec.Command(zbar, "--raw", "-q", "-Sdisable", "-S"+symbology+".enable", root+".png")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 4 {
			t.Fatalf("zbarimg: %v: %s", err, errOut.String())
		}
	}
	return strings.Fields(out.String())
}

// tool finds a program, skipping the test (failing it under CI=true)
// when it is not installed.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (%s) is not installed; it is mandatory under CI=true", name, pkg)
		}
		t.Skipf("%s (%s) is not installed", name, pkg)
	}
	return bin
}

// run runs bin with args, in from stdin, and returns its output.
func run(t testing.TB, in []byte, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v: %s", bin, err, errOut.String())
	}
	return out.Bytes()
}
