package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agency"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// postAgency posts the agency form as a browser does (multipart), with
// the page's CSRF token unless token is "", and logo as the file "logo"
// (none when nil).
func (p *pageClient) postAgency(token string, fields map[string]string, logo []byte) (*http.Response, string) {
	p.e.t.Helper()
	form := map[string]string{}
	for k, v := range fields {
		form[k] = v
	}
	if token != "" {
		form["_csrf"] = token
	}
	return p.postMultipart("/agreement/agency", form, "logo", "logo.png", logo)
}

// The settings are the agency's details until an admin saves others on
// the terms page; then the next agreement and the next reminder print the
// saved ones without a restart (and the next label sheet and report), and a signed
// agreement keeps its bytes.
// Bad input is shown in place with nothing saved; a post without its
// token, or by any other role, is refused.
func TestAgencyDetailsPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		ctx := context.Background()
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		admin, _ := e.signedIn(accounts.Admin)
		signedLoan := e.agreementLoan(sw, co, "José", "Núñez", "en")
		loan := e.agreementLoan(sw, co, "Rosa", "Díaz", "en")
		sig := "data:image/png;base64," + base64.StdEncoding.EncodeToString(signaturePNG(t, 600, 200))
		e.must(201, sw, "POST", acceptanceOf(signedLoan), map[string]any{"method": "drawn", "signature_png": sig, "terms_version": 1})
		signed := e.must(200, co, "GET", agreementOf(signedLoan), nil).Body

		// Nothing saved: the settings, on the page, the agreement and a
		// reminder.
		res, page := admin.send("GET", "/agreement/terms", nil)
		if res.StatusCode != 200 || !strings.Contains(page, `value="Northside Family Services"`) ||
			!strings.Contains(page, `value="USD"`) || !strings.Contains(page, "one is printed") ||
			!strings.Contains(page, `enctype="multipart/form-data"`) {
			t.Fatalf("the terms page: %d\n%s", res.StatusCode, page)
		}
		wantSaying(t, "the agreement before", pdfText(t, e.must(200, co, "GET", agreementOf(loan), nil).Body),
			"Northside Family Services", "+1 312-555-0199", "replacement cost: $ 19.99")
		good := map[string]string{"name": "Lakeside Device Library", "address": "77 Shore Rd, Evanston, IL 60201",
			"phone": "+1 847-555-0123", "email": "lend@lakeside.example", "currency": "EUR"}

		// Without the token, or by another role: refused, nothing saved.
		if res, body := admin.postAgency("", good, nil); res.StatusCode != 403 || !strings.Contains(body, "Nothing was changed") {
			t.Errorf("no token: %d", res.StatusCode)
		}
		for _, role := range []accounts.Role{accounts.Coordinator, accounts.SocialWorker, accounts.Funder} {
			p, _ := e.signedIn(role)
			if res, _ := p.postAgency(p.token("/password"), good, nil); res.StatusCode != 403 {
				t.Errorf("%s posts the agency's details: %d", role, res.StatusCode)
			}
			if res, _ := p.send("GET", "/agreement/terms", nil); res.StatusCode != 403 {
				t.Errorf("%s opens the page: %d", role, res.StatusCode)
			}
		}

		// Bad input: each problem next to its field, the values typed kept,
		// nothing saved.
		bad := map[string]string{"name": "Lakeside Device Library", "email": "not an email", "currency": "ZZZ"}
		res, page = admin.postAgency(admin.token("/agreement/terms"), bad, []byte("GIF89a, not a picture"))
		if res.StatusCode != 422 || !strings.Contains(page, `id="f-email-error"`) || !strings.Contains(page, `id="f-currency-error"`) ||
			!strings.Contains(page, `id="f-logo-error"`) || !strings.Contains(page, `value="ZZZ"`) ||
			!strings.Contains(page, `value="Lakeside Device Library"`) || !strings.Contains(page, "There is a problem") {
			t.Errorf("bad details: %d\n%s", res.StatusCode, page)
		}
		if d, _ := e.svc.Agency.Current(ctx); d.Name != "Northside Family Services" || d.Email != "devices@northside.example" {
			t.Errorf("refused posts saved %+v", d)
		}
		if n, _ := db.NewSelect().Table("agency_details").Count(ctx); n != 0 {
			t.Errorf("refused posts saved %d rows", n)
		}

		// Saved, with a new logo: 303 back with a notice; the next agreement
		// and reminder print the new details; the signed one is unchanged.
		res, _ = admin.postAgency(admin.token("/agreement/terms"), good, signaturePNG(t, 200, 80))
		if res.StatusCode != 303 || res.Header.Get("Location") != "/agreement/terms?agency=saved#agency" {
			t.Fatalf("save: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		_, page = admin.send("GET", "/agreement/terms?agency=saved", nil)
		if !strings.Contains(page, "The agency’s details were saved") || !strings.Contains(page, `value="Lakeside Device Library"`) {
			t.Errorf("after the save:\n%s", page)
		}
		after := pdfText(t, e.must(200, co, "GET", agreementOf(loan), nil).Body)
		wantSaying(t, "the agreement after", after, "Lakeside Device Library", "77 Shore Rd, Evanston, IL 60201", "+1 847-555-0123",
			"lend@lakeside.example", "replacement cost: € 19.99")
		if strings.Contains(after, "Northside") {
			t.Errorf("the agreement still names the setting:\n%s", after)
		}
		if got := e.must(200, co, "GET", agreementOf(signedLoan), nil).Body; !bytes.Equal(got, signed) {
			t.Error("the signed agreement changed with the agency's details")
		}
		device := e.device(co, "phone")
		wantSaying(t, "the label sheet after", pdfText(t, e.must(200, co, "GET", path(labelsURL+"?ids=%d", device), nil).Body),
			"Lakeside Device Library")
		_, adminToken := e.user(accounts.Admin)
		wantSaying(t, "the report after", pdfText(t, e.must(200, adminToken, "GET", utilizationURL+"?from=2026-01-01&to=2026-03-31&format=pdf", nil).Body),
			"Lakeside Device Library")
		n := e.must(201, co, "POST", remindURL(loan), map[string]any{"note": "Please come by."}).JSON(t)
		if body, _ := n["body"].(string); !strings.Contains(body, "Lakeside Device Library") || !strings.Contains(body, "+1 847-555-0123") {
			t.Errorf("the reminder: %q", body)
		}

		// Removing the logo, the other fields emptied: the settings again.
		res, _ = admin.postAgency(admin.token("/agreement/terms"), map[string]string{"remove_logo": "1"}, nil)
		if d, _ := e.svc.Agency.Current(ctx); res.StatusCode != 303 || d.Logo != nil || d.Name != "Northside Family Services" || d.CurrencyCode() != "USD" {
			t.Errorf("logo removed, fields emptied: %d %+v", res.StatusCode, d)
		}
	})
}

// A certificate printed after an admin saves the agency's name names the
// saved agency, not the setting.
func TestAgencyNameOnCertificate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tr := newTrainers(e)
		c := e.client(tr.sw)
		basics := tr.pastSession(testNow.Add(-48*time.Hour), 2*time.Hour, "device_basics", c)
		e.must(200, tr.coord, "POST", path(sessionsURL+"/%d/attendance", basics),
			map[string]any{"client_id": c, "status": "present", "hours": 2, "module_completed": true})
		cert := path(clientsURL+"/%d/training/certificates/device_basics", c)
		wantSaying(t, "the certificate before", pdfText(t, e.must(200, tr.sw, "GET", cert, nil).Body), "DeviceBank")
		adminID, _ := e.user(accounts.Admin)
		if _, err := e.svc.Agency.Save(context.Background(), &accounts.Actor{ID: adminID, Role: accounts.Admin},
			agency.Input{Name: "Lakeside Device Library"}); err != nil {
			t.Fatal(err)
		}
		wantSaying(t, "the certificate after", pdfText(t, e.must(200, tr.sw, "GET", cert, nil).Body), "Lakeside Device Library")
	})
}
