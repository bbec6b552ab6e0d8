package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
)

// upload sets the file input sel to a file holding content.
func (b *browser) upload(sel, name string, content []byte) {
	b.t.Helper()
	file := filepath.Join(b.t.TempDir(), name)
	if err := os.WriteFile(file, content, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{file})); err != nil {
		b.t.Fatalf("upload %s: %v", name, err)
	}
}

// A coordinator at the desk: the dashboard, the list of devices, a device
// added with a mistake then put right, an import whose preview names a bad
// row and then a good file imported, and labels printed from the list.
func TestBrowserDevices(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		e.device(co, "laptop")
		e.device(co, "phone")
		_, email := e.staff(accounts.Coordinator, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)

		if status := b.open("/dashboard"); status != 200 || b.text("h1") != "Dashboard" || !strings.Contains(b.text("main"), "Free devices: 2") {
			t.Fatalf("GET /dashboard: %d, %q", status, b.text("main"))
		}
		b.check("dashboard")

		if status := b.submit(`a[href="/devices?kind=laptop&status=available"]`); status != 200 || !strings.Contains(b.text("caption"), "1 to 1 of 1") {
			t.Fatalf("the dashboard's free laptops: %d, %q", status, b.text("main"))
		}
		b.check("devices")

		// Add, with a mistake, then put right.
		b.submit(`a[href="/devices/new"]`)
		b.check("device-new")
		b.fill("make", "Lenovo", "model", "Tab M10", "imei", "12345", "purchase_cost", "189.99")
		if status := b.submit(`main form button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-imei-error"), "15 digits") ||
			!strings.Contains(b.text(".error-summary"), "IMEI: must be 15 digits") {
			t.Fatalf("a device with a bad IMEI: %d, %q", status, b.text("main"))
		}
		b.check("device-new-errors")
		b.eval(`document.getElementById("f-imei").value = ""`)
		b.fill("serial", "HGT7X2", "asset_tag", "TAB-0101", "accessories", "Charger; Case")
		if status := b.submit(`main form button[type="submit"]`); status != 200 || b.text("h1") != "Device TAB-0101" || !strings.Contains(b.text("main"), "Taken into the pool") {
			t.Fatalf("the device put right: %d, %q", status, b.text("main"))
		}
		b.check("device")
		b.submit(`a[href$="/edit"]`)
		b.check("device-edit")

		// Import: a file with a bad row, then a good one.
		b.open("/devices/import")
		b.check("devices-import")
		b.upload("#f-file", "devices.csv", []byte("kind,make,model,serial\ntablet,Acme,Tab,IMP-1\ndrone,Acme,,\n"))
		if status := b.submit(`form[action="/devices/import"] button[type="submit"]`); status != 200 || !strings.Contains(b.text("#preview"), "2 devices, 1 with problems") ||
			!strings.Contains(b.text("table.import"), "model is required") {
			t.Fatalf("the preview of a bad file: %d, %q", status, b.text("main"))
		}
		b.check("devices-import-errors")
		b.upload("#f-file", "devices.csv", []byte(goodImport))
		if status := b.submit(`form[action="/devices/import"] button[type="submit"]`); status != 200 || !strings.Contains(b.text("main"), "Import 3 devices") {
			t.Fatalf("the preview of a good file: %d, %q", status, b.text("main"))
		}
		b.check("devices-import-preview")
		if status := b.submit(`form[action="/devices/import/confirm"] button`); status != 200 || !strings.Contains(b.text("main"), "3 devices were imported") ||
			!strings.Contains(b.text("table"), "IMP-3") {
			t.Fatalf("the import: %d, %q", status, b.text("main"))
		}
		b.check("devices-imported")

		// Labels of two ticked devices.
		b.open("/devices?kind=tablet")
		b.eval(`document.querySelectorAll('input[name="ids"]').forEach(c => c.checked = true)`)
		if pdf := b.download(`form[action="/devices/labels"] button:not([name])`); !strings.HasPrefix(string(pdf), "%PDF") {
			t.Errorf("the labels: %.20q", pdf)
		}
	})
}
