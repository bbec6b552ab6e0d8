// Package doctest reads PDFs back in tests: their text, as poppler's
// pdftotext extracts it, so a test checks what a reader sees rather than
// the bytes gofpdf happens to write.
package doctest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// Text returns the text of pdf, page by page in reading order. When
// pdftotext (poppler-utils) is not installed the test is skipped, except
// under CI=true, where it fails: CI must read every document it renders.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext (poppler-utils) is not installed; it is mandatory under CI=true")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	cmd := exec.Command(bin, "-q", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("pdftotext: %v: %s", err, errOut.String())
	}
	return out.String()
}
