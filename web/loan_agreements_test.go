package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// agreementOf is the URL of a loan's agreement PDF.
func agreementOf(loan int64) string { return path(v1+"/loans/%d/agreement.pdf", loan) }

// acceptanceOf is the URL a loan's signing is recorded at.
func acceptanceOf(loan int64) string { return path(v1+"/loans/%d/agreement/acceptance", loan) }

// agreementEnv is a server whose agency has all its details and a logo.
func agreementEnv(t *testing.T, db *storage.DB) *env {
	logo, err := documents.CleanImage(signaturePNG(t, 300, 100), documents.LogoRules)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, db, app.Options{RemindNowInterval: -1, AgencyName: "Northside Family Services",
		AgencyAddress: "1200 W Lake St, Chicago, IL 60607", AgencyPhone: "+1 312-555-0199",
		AgencyEmail: "devices@northside.example", AgencyLogo: logo})
}

// signaturePNG is a w × h PNG with a stroke across it, as a signature pad
// sends.
func signaturePNG(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, h/2+(x%20)-10, color.Black)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// agreementLoan records a client of worker sw named first and last, who
// prefers lang, refers them, and lends them a phone with two accessories
// and a data plan; it returns the loan's id.
func (e *env) agreementLoan(sw, co, first, last, lang string) int64 {
	e.t.Helper()
	n := e.seq.Add(1)
	client := e.must(201, sw, "POST", "/api/v1/clients", map[string]any{
		"case_number": fmt.Sprintf("CASE-A%d", n), "first_name": first, "last_name": last, "preferred_language": lang,
		"phone": "+1 312 555 0100", "preferred_channel": "sms", "household_size": 3, "annual_income_cents": 1234500}).ID(e.t)
	e.refer(sw, client)
	device := e.must(201, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Motorola", "model": "moto g",
		"serial": fmt.Sprintf("ZY-%d", n), "imei": testIMEI(n),
		"accessories": []map[string]any{{"name": "Charger", "replacement_cost_cents": 1999}, {"name": "Case", "replacement_cost_cents": 1250}}}).ID(e.t)
	plan := e.must(201, co, "POST", "/api/v1/data-plans", map[string]any{
		"carrier": "Mint Mobile", "line_number": fmt.Sprintf("+1 312 555 %04d", n), "monthly_cost_cents": 1500,
		"data_cap_mb": 10240, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}).ID(e.t)
	return e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": device, "data_plan_id": plan,
		"due_on": "2026-04-10", "walk_in_justification": walkIn}).ID(e.t)
}

// testIMEI is a valid IMEI (its Luhn check digit right) made from n.
func testIMEI(n int64) string {
	body := fmt.Sprintf("35693803%06d", n%1_000_000)
	sum := 0
	for i, r := range body {
		d := int(r - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}

// pdfText is the text of an agreement with its whitespace collapsed
// (pdftotext breaks lines wherever a cell wraps).
func pdfText(t testing.TB, pdf []byte) string {
	return strings.Join(strings.Fields(doctest.Text(t, pdf)), " ")
}

func wantSaying(t *testing.T, what, text string, phrases ...string) {
	t.Helper()
	for _, p := range phrases {
		if !strings.Contains(text, p) {
			t.Errorf("%s does not say %q:\n%s", what, p, text)
		}
	}
}

// A loan's agreement prints in the client's language (or another for
// staff), with the agency, the client's name and case number and nothing
// else of theirs, the device and its barcode, the plan, the dates and the
// terms version; once signed it is the signed PDF, the same bytes every
// time whatever changes later, and its SHA-256 is the one recorded.
func TestLoanAgreement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, admin := e.user(accounts.Admin)
		loan := e.agreementLoan(sw, co, "José", "Núñez", "es-MX")
		tag := e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["device_id"]
		assetTag := e.must(200, co, "GET", path(v1+"/devices/%v", tag), nil).JSON(t)["asset_tag"].(string)

		r := e.must(200, sw, "GET", agreementOf(loan), nil)
		for name, want := range map[string]string{"Content-Type": "application/pdf",
			"Content-Disposition":    fmt.Sprintf(`attachment; filename="loan-%d-agreement.pdf"`, loan),
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s %q, want %q", name, got, want)
			}
		}
		es := pdfText(t, r.Body)
		wantSaying(t, "the Spanish agreement", es, "Contrato de préstamo de equipo", fmt.Sprintf("Préstamo n.º %d", loan),
			"José Núñez", "CASE-A", "Northside Family Services", "1200 W Lake St, Chicago, IL 60607", "+1 312-555-0199",
			"devices@northside.example", "teléfono", "Motorola moto g", assetTag,
			"Charger (costo de reposición: US$ 19,99)", "Case (costo de reposición: US$ 12,50)", "Mint Mobile", "+1 312 555 0", "10 GB",
			"31 de diciembre de 2026", "10 de marzo de 2026", "10 de abril de 2026", "Condiciones, versión 1 (español)",
			"Sus datos en el equipo", "Testigo (personal de la agencia)", fmt.Sprintf("Préstamo %d · condiciones versión 1 (es) · página 1 de", loan))
		for _, secret := range []string{"12345", "12.345", "household", "+1 312 555 0100", "+13125550100"} {
			if strings.Contains(es, secret) {
				t.Errorf("the agreement prints %q, which is not its business:\n%s", secret, es)
			}
		}
		if got := doctest.Barcodes(t, r.Body, 1, doctest.Code128); !slices.Equal(got, []string{assetTag}) {
			t.Errorf("the asset tag barcode reads %v, want %s", got, assetTag)
		}
		// Staff may print another language; the agency has no German terms,
		// so English ones print.
		wantSaying(t, "the French agreement", pdfText(t, e.must(200, co, "GET", agreementOf(loan)+"?language=fr-CA", nil).Body),
			"Contrat de prêt d'appareil", "Conditions, version 1 (français)", "10 avril 2026")
		wantSaying(t, "the agreement asked in German", pdfText(t, e.must(200, co, "GET", agreementOf(loan)+"?language=de", nil).Body),
			"Device loan agreement", "Terms version 1 (English)", "April 10, 2026")
		expectError(t, e.do(co, "GET", agreementOf(loan)+"?language=zz-!!", nil), 422, "invalid", "language")

		e.must(404, sw, "GET", path(v1+"/loans/%d/agreement", loan), nil)
		if got := listIDs(t, e.must(200, co, "GET", v1+"/loans?agreement=unsigned", nil)); !slices.Contains(got, loan) {
			t.Errorf("unsigned loans %v do not include %d", got, loan)
		}

		// The client signs on the social worker's tablet.
		sig := "data:image/png;base64," + base64.StdEncoding.EncodeToString(signaturePNG(t, 600, 200))
		signed := e.must(201, sw, "POST", acceptanceOf(loan), map[string]any{"method": "drawn", "signature_png": sig, "terms_version": 1},
			"Idempotency-Key", "sign-1")
		if loc := signed.Header.Get("Location"); loc != path(v1+"/loans/%d/agreement", loan) {
			t.Errorf("Location %q", loc)
		}
		rec := signed.JSON(t)
		swID := e.must(200, sw, "GET", v1+"/me", nil).JSON(t)["id"]
		if rec["loan_id"] != float64(loan) || rec["method"] != "drawn" || rec["terms_version"] != float64(1) || rec["language"] != "es" ||
			rec["witness_id"] != swID || rec["signed_at"] != "2026-03-10T15:00:00Z" || len(rec["sha256"].(string)) != 64 || len(rec) != 7 {
			t.Errorf("the signing record: %s", signed.Body)
		}
		if again := e.must(201, sw, "POST", acceptanceOf(loan), map[string]any{"method": "drawn", "signature_png": sig, "terms_version": 1},
			"Idempotency-Key", "sign-1"); !bytes.Equal(again.Body, signed.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a resent signing: %s", again.Body)
		}
		expectError(t, e.do(co, "POST", acceptanceOf(loan), map[string]any{"method": "paper"}), 409, "conflict")
		if got := e.must(200, co, "GET", path(v1+"/loans/%d/agreement", loan), nil); !bytes.Equal(got.Body, signed.Body) {
			t.Errorf("the record read back: %s, want %s", got.Body, signed.Body)
		}

		// The signed agreement: the same bytes every time, whatever the
		// terms become and whatever language is asked for.
		first := e.must(200, co, "GET", agreementOf(loan), nil)
		if cd := first.Header.Get("Content-Disposition"); cd != fmt.Sprintf(`attachment; filename="loan-%d-agreement-signed.pdf"`, loan) {
			t.Errorf("signed Content-Disposition %q", cd)
		}
		sum := sha256.Sum256(first.Body)
		if hex.EncodeToString(sum[:]) != rec["sha256"] {
			t.Errorf("the signed PDF's SHA-256 is %x, the record says %v", sum, rec["sha256"])
		}
		wantSaying(t, "the signed agreement", pdfText(t, first.Body), "José Núñez", "Firmado 10 de marzo de 2026, 15:00 UTC",
			"Condiciones, versión 1 (español)")
		e.must(201, admin, "PUT", v1+"/agreement/terms?language=es", map[string]any{"body": "Nuevas condiciones."})
		e.must(200, co, "PATCH", path(v1+"/devices/%v", tag), map[string]any{"model": "moto g power"})
		e.clock.Set(testNow.AddDate(0, 0, 3))
		for _, q := range []string{"", "?language=fr"} {
			if later := e.must(200, sw, "GET", agreementOf(loan)+q, nil); !bytes.Equal(later.Body, first.Body) {
				t.Errorf("the signed agreement%s changed after the terms and the device did", q)
			}
		}
		if got := listIDs(t, e.must(200, co, "GET", v1+"/loans?agreement=unsigned", nil)); slices.Contains(got, loan) {
			t.Errorf("unsigned loans %v include the signed %d", got, loan)
		}
		if got := listIDs(t, e.must(200, co, "GET", v1+"/loans?agreement=signed", nil)); !slices.Equal(got, []int64{loan}) {
			t.Errorf("signed loans %v, want [%d]", got, loan)
		}

		// Signing and every download are in the client's history.
		client := int64(e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["client_id"].(float64))
		var downloads, signings int
		for _, ev := range e.allHistoryAt(admin, path(v1+"/clients/%d/history", client)) {
			switch ev["action"] {
			case "agreement.downloaded":
				downloads++
			case "agreement.signed":
				signings++
				if ev["loan_id"] != float64(loan) || ev["actor_id"] != swID {
					t.Errorf("the signing event: %v", ev)
				}
			}
		}
		if downloads != 6 || signings != 1 {
			t.Errorf("%d downloads and %d signings in the history, want 6 and 1", downloads, signings)
		}
	})
}

// Typed and paper signatures print as such; names in any Latin, Greek or
// Cyrillic script print as written.
func TestLoanAgreementTypedAndPaper(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		for _, name := range [][2]string{{"Zoë", "Françoise"}, {"Łukasz", "Nguyễn Thị Ánh"}, {"Σοφία", "Ольга"}} {
			typed := e.agreementLoan(sw, co, name[0], name[1], "en")
			paper := e.agreementLoan(sw, co, name[0], name[1], "fr")
			full := name[0] + " " + name[1]
			e.must(201, co, "POST", acceptanceOf(typed), map[string]any{"method": "typed", "typed_name": "  " + full + " "})
			e.must(201, co, "POST", acceptanceOf(paper), map[string]any{"method": "paper"})
			wantSaying(t, "the typed agreement", pdfText(t, e.must(200, sw, "GET", agreementOf(typed), nil).Body),
				"Client Name "+full, "Signed by typing the name: "+full+" "+full+" Signed March 10, 2026, 15:00 UTC")
			wantSaying(t, "the paper agreement", pdfText(t, e.must(200, sw, "GET", agreementOf(paper), nil).Body),
				"Signé sur papier ; l'organisme conserve l'exemplaire signé.", full)
		}
	})
}

// Only those who may see the loan reach its agreement: a social worker
// for their own clients (404 otherwise, as for a loan that does not
// exist), never a funder (403).
func TestLoanAgreementWhoMay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, other := e.user(accounts.SocialWorker)
		_, funder := e.user(accounts.Funder)
		loan := e.agreementLoan(sw, co, "Ana", "Ruiz", "en")
		for _, p := range []string{agreementOf(loan), path(v1+"/loans/%d/agreement", loan), agreementOf(99999)} {
			expectError(t, e.do(funder, "GET", p, nil), 403, "forbidden")
		}
		expectError(t, e.do(funder, "POST", acceptanceOf(loan), map[string]any{"method": "paper"}), 403, "forbidden")
		e.wantAgreementHidden("another worker", other, loan)
		e.must(404, sw, "GET", path(v1+"/loans/%d/agreement", loan), nil) // unsigned, and nothing was signed above
		e.must(201, sw, "POST", acceptanceOf(loan), map[string]any{"method": "paper"})
	})
}

// wantAgreementHidden checks that each agreement route answers token on
// loan byte for byte as it answers on a loan that does not exist.
func (e *env) wantAgreementHidden(who, token string, loan int64) {
	e.t.Helper()
	for _, id := range []int64{loan, 99999} {
		want := e.do(token, "GET", path(v1+"/loans/%d", 99999), nil)
		for _, r := range []*response{e.do(token, "GET", agreementOf(id), nil), e.do(token, "GET", path(v1+"/loans/%d/agreement", id), nil),
			e.do(token, "POST", acceptanceOf(id), map[string]any{"method": "paper"})} {
			if r.Status != 404 || !bytes.Equal(r.Body, want.Body) {
				e.t.Errorf("%s on loan %d: %d %s, want the answer for no loan: %s", who, id, r.Status, r.Body, want.Body)
			}
		}
	}
}

// Bad signings are refused naming the field, and store nothing: the
// agreement stays unsigned, and no signing is in the audit trail.
func TestLoanAgreementAcceptanceBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, admin := e.user(accounts.Admin)
		loan := e.agreementLoan(sw, co, "Ana", "Ruiz", "en")
		b64 := base64.StdEncoding.EncodeToString
		var jpg bytes.Buffer
		if err := jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 50, 20)), nil); err != nil {
			t.Fatal(err)
		}
		var blank bytes.Buffer
		if err := png.Encode(&blank, image.NewNRGBA(image.Rect(0, 0, 300, 100))); err != nil {
			t.Fatal(err)
		}
		// A PNG header claiming 20000 × 20000 pixels: refused before any
		// pixel is decoded.
		huge := signaturePNG(t, 10, 10)
		copy(huge[16:24], []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20})
		big := append(signaturePNG(t, 50, 50), make([]byte, 201*1024)...)
		// Pixels of many colours, all fully transparent: nothing prints.
		see := image.NewNRGBA(image.Rect(0, 0, 300, 100))
		for i := 0; i < len(see.Pix); i += 4 {
			see.Pix[i], see.Pix[i+1], see.Pix[i+2] = byte(i), byte(i/3), byte(i/7)
		}
		var invisibleBuf bytes.Buffer
		if err := png.Encode(&invisibleBuf, see); err != nil {
			t.Fatal(err)
		}
		invisible := invisibleBuf.Bytes()
		// White with a stroke of almost-white.
		pale := image.NewGray(image.Rect(0, 0, 300, 100))
		for i := range pale.Pix {
			pale.Pix[i] = 255
		}
		for x := range 300 {
			pale.Pix[50*300+x] = 0xFE
		}
		var faintBuf bytes.Buffer
		if err := png.Encode(&faintBuf, pale); err != nil {
			t.Fatal(err)
		}
		faint := faintBuf.Bytes()
		for _, tc := range []struct {
			name  string
			body  any
			field string
		}{
			{"no method", map[string]any{}, "method"},
			{"an unknown method", map[string]any{"method": "fingerprint"}, "method"},
			{"drawn with no signature", map[string]any{"method": "drawn"}, "signature_png"},
			{"drawn with an empty signature", map[string]any{"method": "drawn", "signature_png": ""}, "signature_png"},
			{"drawn with not base64", map[string]any{"method": "drawn", "signature_png": "not base64!"}, "signature_png"},
			{"drawn with a JPEG", map[string]any{"method": "drawn", "signature_png": b64(jpg.Bytes())}, "signature_png"},
			{"drawn with text", map[string]any{"method": "drawn", "signature_png": b64([]byte("<svg></svg>"))}, "signature_png"},
			{"drawn with a blank pad", map[string]any{"method": "drawn", "signature_png": b64(blank.Bytes())}, "signature_png"},
			{"drawn over 200 KB", map[string]any{"method": "drawn", "signature_png": b64(big)}, "signature_png"},
			{"drawn with too many pixels", map[string]any{"method": "drawn", "signature_png": b64(huge)}, "signature_png"},
			{"drawn with a typed name", map[string]any{"method": "drawn", "signature_png": b64(signaturePNG(t, 60, 20)), "typed_name": "Ana"}, "typed_name"},
			{"typed with no name", map[string]any{"method": "typed"}, "typed_name"},
			{"typed with a blank name", map[string]any{"method": "typed", "typed_name": " \t "}, "typed_name"},
			{"typed over 200 characters", map[string]any{"method": "typed", "typed_name": strings.Repeat("é", 201)}, "typed_name"},
			{"typed with a line break", map[string]any{"method": "typed", "typed_name": "Ana\nRuiz"}, "typed_name"},
			{"typed with a direction override", map[string]any{"method": "typed", "typed_name": "Ana \u202eziuR"}, "typed_name"},
			{"typed with an emoji", map[string]any{"method": "typed", "typed_name": "Ana 🙂"}, "typed_name"},
			{"typed with only a zero-width space", map[string]any{"method": "typed", "typed_name": "\u200b"}, "typed_name"},
			{"typed with only a Hangul filler", map[string]any{"method": "typed", "typed_name": "\u3164"}, "typed_name"},
			{"typed with only joiners", map[string]any{"method": "typed", "typed_name": "\u200d\u200c"}, "typed_name"},
			{"typed with only an accent", map[string]any{"method": "typed", "typed_name": "\u0301"}, "typed_name"},
			{"drawn invisible: transparent pixels of many colours", map[string]any{"method": "drawn", "signature_png": b64(invisible)}, "signature_png"},
			{"drawn too faint to print", map[string]any{"method": "drawn", "signature_png": b64(faint)}, "signature_png"},
			{"drawn over 2,000,000 pixels", map[string]any{"method": "drawn", "signature_png": b64(signaturePNG(t, 2001, 1000))}, "signature_png"},
			{"drawn as a JPEG data URL", map[string]any{"method": "drawn", "signature_png": "data:image/jpeg;base64," + b64(jpg.Bytes())}, "signature_png"},
			{"typed with a signature", map[string]any{"method": "typed", "typed_name": "Ana", "signature_png": b64(signaturePNG(t, 60, 20))}, "signature_png"},
			{"paper with a name", map[string]any{"method": "paper", "typed_name": "Ana"}, "typed_name"},
			{"an unknown language", map[string]any{"method": "paper", "language": "zz-!!"}, "language"},
			{"terms version 0", map[string]any{"method": "paper", "terms_version": 0}, "terms_version"},
		} {
			r := e.do(co, "POST", acceptanceOf(loan), tc.body)
			if r.Status != 422 || r.ErrorCode(t) != "invalid" || r.ErrorFields(t)[tc.field] == nil {
				t.Errorf("%s: %d %s, want 422 naming %s", tc.name, r.Status, r.Body, tc.field)
			}
		}
		// The witness is the caller, never a field.
		expectError(t, e.do(co, "POST", acceptanceOf(loan), map[string]any{"method": "paper", "witness_id": 1}), 422, "invalid", "witness_id")
		// Terms that changed since the client read them, and a loan that
		// is not open, are conflicts.
		e.must(201, admin, "PUT", v1+"/agreement/terms", map[string]any{"body": "New terms."})
		expectError(t, e.do(co, "POST", acceptanceOf(loan), map[string]any{"method": "paper", "terms_version": 1}), 409, "conflict")
		returned := e.agreementLoan(sw, co, "Eva", "Ruiz", "en")
		e.must(200, co, "POST", path(v1+"/loans/%d/return", returned), map[string]any{"condition": "good"})
		expectError(t, e.do(co, "POST", acceptanceOf(returned), map[string]any{"method": "paper"}), 409, "conflict")

		e.must(404, co, "GET", path(v1+"/loans/%d/agreement", loan), nil)
		if got := e.must(200, co, "GET", agreementOf(loan), nil).Header.Get("Content-Disposition"); strings.Contains(got, "signed") {
			t.Errorf("a refused signing left the agreement signed: %s", got)
		}
		client := int64(e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["client_id"].(float64))
		if slices.Contains(actionsOf(e.allHistoryAt(admin, path(v1+"/clients/%d/history", client))), "agreement.signed") {
			t.Error("a refused signing is in the audit trail")
		}
		// The terms the client reads now sign.
		if got := e.must(201, co, "POST", acceptanceOf(loan), map[string]any{"method": "paper", "terms_version": 2}).JSON(t); got["terms_version"] != float64(2) {
			t.Errorf("signed against version 2: %v", got)
		}
	})
}

// Of many signings of one agreement at once, exactly one is recorded.
func TestLoanAgreementConcurrentSignings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, co2 := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, admin := e.user(accounts.Admin)
		loan := e.agreementLoan(sw, co, "Ana", "Ruiz", "en")
		bodies := []map[string]any{{"method": "paper"}, {"method": "typed", "typed_name": "Ana Ruiz"},
			{"method": "drawn", "signature_png": base64.StdEncoding.EncodeToString(signaturePNG(t, 300, 100))}}
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				token := []string{co, co2, sw}[i%3]
				statuses[i] = e.do(token, "POST", acceptanceOf(loan), bodies[i%3]).Status
			}()
		}
		wg.Wait()
		slices.Sort(statuses)
		if want := []int{201, 409, 409, 409, 409, 409, 409, 409}; !slices.Equal(statuses, want) {
			t.Fatalf("concurrent signings answered %v, want %v", statuses, want)
		}
		client := int64(e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["client_id"].(float64))
		n := 0
		for _, a := range actionsOf(e.allHistoryAt(admin, path(v1+"/clients/%d/history", client))) {
			if a == "agreement.signed" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d signings in the audit trail, want 1", n)
		}
	})
}

// Text the embedded font cannot print (beyond the Basic Multilingual Plane:
// emoji, rare ideographs) in a client's, a device's or a witness's name
// prints as a replacement character; the agreement is still drawn.
func TestLoanAgreementPrintsWhatTheFontCannot(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, sw := e.user(accounts.SocialWorker)
		coID, co := e.user(accounts.Coordinator)
		_, admin := e.user(accounts.Admin)
		e.must(200, admin, "PATCH", path(v1+"/users/%d", coID), map[string]any{"name": "Sam 🌈 Lee"})
		loan := e.agreementLoan(sw, co, "Ana", "𠮷田 😀", "en")
		device := e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["device_id"]
		e.must(200, co, "PATCH", path(v1+"/devices/%v", device), map[string]any{"model": "Tab 🌟"})
		wantSaying(t, "the agreement", pdfText(t, e.must(200, co, "GET", agreementOf(loan), nil).Body), "Ana \ufffd\u7530 \ufffd", "Motorola Tab \ufffd")
		e.must(201, co, "POST", acceptanceOf(loan), map[string]any{"method": "paper"})
		wantSaying(t, "the signed agreement", pdfText(t, e.must(200, co, "GET", agreementOf(loan), nil).Body), "Sam \ufffd Lee")
		expectError(t, e.do(admin, "PUT", v1+"/agreement/terms", map[string]any{"body": "Keep the phone 📱 safe."}), 422, "invalid", "body")
	})
}

// A coordinator reaches a loan's agreement, which names the client, only
// while the client is referred to them, as for the client's record.
func TestLoanAgreementNeedsTheClientInReach(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, sw := e.user(accounts.SocialWorker)
		_, co := e.user(accounts.Coordinator)
		client := e.client(sw)
		referral := e.refer(sw, client)
		loan := e.must(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": client, "device_id": e.device(co, "laptop"),
			"due_on": "2026-04-10", "walk_in_justification": walkIn}).ID(t)
		e.must(200, co, "GET", agreementOf(loan), nil)
		e.must(200, sw, "POST", path(v1+"/requests/%d/cancel", referral), nil)
		e.must(404, co, "GET", path(v1+"/clients/%d", client), nil)
		e.wantAgreementHidden("a coordinator without the referral", co, loan)
		// The client's worker still may.
		e.must(201, sw, "POST", acceptanceOf(loan), map[string]any{"method": "paper"})
	})
}

// A signing and a return at the same moment: the agreement is signed only
// if the loan was still open when it was, whichever commits first.
func TestLoanAgreementSignedWhileReturned(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := agreementEnv(t, db)
		_, sw := e.user(accounts.SocialWorker)
		_, co := e.user(accounts.Coordinator)
		_, admin := e.user(accounts.Admin)
		sig := base64.StdEncoding.EncodeToString(signaturePNG(t, 600, 200))
		for round := range 6 {
			loan := e.agreementLoan(sw, co, "Ana", fmt.Sprintf("Round%d", round), "en")
			var wg sync.WaitGroup
			var signed, returned int
			wg.Add(2)
			go func() {
				defer wg.Done()
				signed = e.do(sw, "POST", acceptanceOf(loan), map[string]any{"method": "drawn", "signature_png": sig}).Status
			}()
			go func() {
				defer wg.Done()
				returned = e.do(co, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"}).Status
			}()
			wg.Wait()
			if returned != 200 || (signed != 201 && signed != 409) {
				t.Fatalf("round %d: signing %d, return %d", round, signed, returned)
			}
			client := int64(e.must(200, co, "GET", path(v1+"/loans/%d", loan), nil).JSON(t)["client_id"].(float64))
			order := strings.Join(actionsOf(e.allHistoryAt(admin, path(v1+"/clients/%d/history", client))), " ")
			signedAt, returnedAt := strings.Index(order, "agreement.signed"), strings.Index(order, "loan.returned")
			// The history lists the newest first.
			if signed == 201 && (signedAt < 0 || signedAt < returnedAt) {
				t.Errorf("round %d: the agreement was signed after the loan was returned: %s", round, order)
			}
			if signed == 409 && signedAt >= 0 {
				t.Errorf("round %d: a refused signing is in the history: %s", round, order)
			}
		}
	})
}

// A signed agreement's PDF is sealed in the database (it names the client
// and carries their signature): every download is the PDF signed, whose
// SHA-256 is the one recorded. One signed before PDFs were sealed is
// sealed at the next start, once, and downloads as before; a PDF swapped
// for another agreement's does not download; a new data key seals every
// agreement again, and the trigger lets nothing else of it change.
func TestLoanAgreementPDFSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := agreementEnv(t, db)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		first, second := e.agreementLoan(sw, co, "Zephyrine", "Quillabamba", "en"), e.agreementLoan(sw, co, "Rosa", "Diaz", "en")
		for _, loan := range []int64{first, second} {
			e.must(201, co, "POST", acceptanceOf(loan), map[string]any{"method": "typed", "typed_name": "Zephyrine Quillabamba"})
		}
		download := func(loan int64) []byte {
			t.Helper()
			body := e.must(200, sw, "GET", agreementOf(loan), nil).Body
			var recorded string
			if err := db.NewRaw("SELECT sha256 FROM loan_agreements WHERE loan_id = ?", loan).Scan(ctx, &recorded); err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != recorded || !bytes.HasPrefix(body, []byte("%PDF")) {
				t.Fatalf("loan %d's agreement downloads as %d bytes not matching its SHA-256", loan, len(body))
			}
			return body
		}
		stored := func(loan int64) []byte {
			t.Helper()
			var pdf []byte
			if err := db.NewRaw("SELECT pdf FROM loan_agreements WHERE loan_id = ?", loan).Scan(ctx, &pdf); err != nil {
				t.Fatal(err)
			}
			return pdf
		}
		plain := download(first)
		if !keyring.IsSealed(string(stored(first))) {
			t.Fatalf("the stored PDF is not sealed: %.20q", stored(first))
		}

		// Stored plain, as before sealing: sealed once, downloads the same.
		if _, err := db.ExecContext(ctx, "UPDATE loan_agreements SET pdf = ?, sealed_key = 0 WHERE loan_id = ?", plain, first); err != nil {
			t.Fatal(err)
		}
		agreements := e.svc.Agreements
		if n, err := agreements.SealStored(ctx); err != nil || n != 1 {
			t.Fatalf("sealed %d stored agreements, %v; want 1", n, err)
		}
		if n, err := agreements.SealStored(ctx); err != nil || n != 0 {
			t.Fatalf("the second time, sealed %d, %v", n, err)
		}
		if got := download(first); !bytes.Equal(got, plain) || !keyring.IsSealed(string(stored(first))) {
			t.Fatalf("after sealing at start, the download differs or the PDF is not sealed")
		}

		// A new data key: every agreement sealed again, the same PDFs.
		kek, err := keyring.ParseKEK(dbtest.DataKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keyring.RotateData(ctx, db, kek, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := agreements.Keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := agreements.Reseal(ctx); err != nil || n != 2 {
			t.Fatalf("resealed %d agreements, %v; want 2", n, err)
		}
		if got := download(first); !bytes.Equal(got, plain) {
			t.Fatalf("after a new data key, the download differs")
		}

		// Another agreement's sealed PDF, moved onto this one: refused.
		if _, err := db.ExecContext(ctx, "UPDATE loan_agreements SET pdf = (SELECT pdf FROM loan_agreements WHERE loan_id = ?) WHERE loan_id = ?",
			second, first); err != nil {
			t.Fatal(err)
		}
		if r := e.do(sw, "GET", agreementOf(first), nil); r.Status != 500 {
			t.Fatalf("a swapped PDF downloads: %d", r.Status)
		}
		// Nothing else of a signed agreement changes.
		if _, err := db.ExecContext(ctx, "UPDATE loan_agreements SET sha256 = ? WHERE loan_id = ?", strings.Repeat("0", 64), second); err == nil {
			t.Fatal("a signed agreement's SHA-256 was changed")
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM loan_agreements WHERE loan_id = ?", second); err == nil {
			t.Fatal("a signed agreement was removed")
		}
	})
}
