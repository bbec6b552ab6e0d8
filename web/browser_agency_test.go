package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

// An admin changes the agency's details on the terms page: a bad
// currency and logo first, shown next to their fields, then a good save
// with a new logo, shown with a notice.
func TestBrowserAgencyDetails(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, email := e.staff(accounts.Admin, browserPassword)
		b := e.browser()
		b.signIn(email, browserPassword)
		b.open("/agreement/terms")
		b.fill("name", "Lakeside Device Library", "currency", "Dollars")
		b.upload("#f-logo", "logo.gif", []byte("GIF89a, not a picture"))
		if status := b.submit(`main form[action="/agreement/agency"] button[type="submit"]`); status != 422 ||
			b.text("#f-currency-error") == "" || b.text("#f-logo-error") == "" {
			t.Errorf("bad details: %d, %q", status, b.text("main"))
		}
		b.check("agency-details-errors")
		if d, _ := e.svc.Agency.Current(context.Background()); d.Name == "Lakeside Device Library" {
			t.Error("bad details were saved")
		}
		b.fill("currency", "CAD", "phone", "+1 847-555-0123")
		b.upload("#f-logo", "logo.png", signaturePNG(t, 200, 80))
		if status := b.submit(`main form[action="/agreement/agency"] button[type="submit"]`); status != 200 ||
			!strings.Contains(b.text(".notice"), "details were saved") {
			t.Errorf("good details: %d, %q", status, b.text("main"))
		}
		b.check("agency-details-saved")
		if d, _ := e.svc.Agency.Current(context.Background()); d.Name != "Lakeside Device Library" || d.CurrencyCode() != "CAD" ||
			d.Phone != "+1 847-555-0123" || d.Logo == nil {
			t.Errorf("saved %+v", d)
		}
	})
}
