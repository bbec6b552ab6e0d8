package web_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
)

// thisMonth is the first and last day of the month the test clock is in.
func (e *env) thisMonth() (string, string) {
	first := calendar.Today(e.svc.Reports.Now(), e.svc.Reports.Location)
	first.Day = 1
	return first.String(), first.AddMonths(1).AddDays(-1).String()
}

// postReport posts the report form to path with its token and the fields.
func (p *pageClient) postReport(path string, fields ...string) (int, string, string) {
	p.e.t.Helper()
	form := url.Values{"_csrf": {p.token("/reports")}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	res, body := p.send("POST", path, form)
	return res.StatusCode, res.Header.Get("Content-Type"), body
}

// The report page shows each role what the API would: a funder their own
// funding sources' figures only, staff all of them, a social worker the
// 403 page and no link to it.
func TestReportPageByRole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		a, b, c := e.fundingSource(admin, "A Fund"), e.fundingSource(admin, "B Fund"), e.fundingSource(admin, "C Fund")
		for _, d := range []struct {
			kind   string
			source int64
		}{{"laptop", a}, {"laptop", a}, {"phone", b}, {"phone", b}, {"phone", b}} {
			e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": d.kind, "make": "Acme", "model": "M", "funding_source_id": d.source})
		}
		funderID, funderEmail := e.staff(accounts.Funder, browserPassword)
		e.must(200, admin, "PATCH", path(v1+"/users/%d", funderID), map[string]any{"funding_source_ids": []int64{a, c}})
		from, to := e.thisMonth()
		devicesAtEnd := func(n string) string { return `<th scope="row">Devices at end</th><td class="num">` + n + `</td>` }

		// A funder: the form offers their two sources, never the third;
		// the report counts theirs only.
		f := e.pageClient()
		f.signIn(funderEmail, browserPassword)
		_, home := f.send("GET", "/", nil)
		if !strings.Contains(home, `href="/reports"`) {
			t.Errorf("a funder's home page has no link to the report:\n%s", home)
		}
		res, form := f.send("GET", "/reports", nil)
		if res.StatusCode != 200 || !strings.Contains(form, `method="post" action="/reports"`) || !strings.Contains(form, ">A Fund</option>") ||
			!strings.Contains(form, ">C Fund</option>") || strings.Contains(form, "B Fund") || !strings.Contains(form, `type="date"`) {
			t.Errorf("a funder's report form: %d\n%s", res.StatusCode, form)
		}
		status, _, page := f.postReport("/reports", "from", from, "to", to)
		if status != 200 || !strings.Contains(page, devicesAtEnd("2")) || !strings.Contains(page, "<td>A Fund, C Fund</td>") ||
			!strings.Contains(page, "<svg") || !strings.Contains(page, `<caption id="t-0-0">Devices</caption>`) || strings.Contains(page, "B Fund") {
			t.Errorf("a funder's report: %d\n%s", status, page)
		}
		status, _, page = f.postReport("/reports", "from", from, "to", to, "funding_source_id", strconv.FormatInt(c, 10))
		if status != 200 || !strings.Contains(page, devicesAtEnd("0")) {
			t.Errorf("a funder's report of C Fund: %d\n%s", status, page)
		}
		// Another's source is refused next to the field, as one that does
		// not exist.
		status, _, page = f.postReport("/reports", "from", from, "to", to, "funding_source_id", strconv.FormatInt(b, 10))
		if status != 422 || !strings.Contains(page, `id="f-funding_source_id-error"`) || !strings.Contains(page, "no funding source you can see has this id") || strings.Contains(page, "Devices at end") {
			t.Errorf("a funder's report of another's source: %d\n%s", status, page)
		}
		// The downloads are the same report, with the API's headers.
		for _, d := range []struct{ path, ctype, start, file string }{
			{"/reports.csv", "text/csv; charset=utf-8", "section,measure,breakdown,value", ".csv"},
			{"/reports.pdf", "application/pdf", "%PDF", ".pdf"},
		} {
			form := url.Values{"_csrf": {f.token("/reports")}, "from": {from}, "to": {to}}
			res, body := f.send("POST", d.path, form)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != d.ctype || !strings.HasPrefix(body, d.start) ||
				res.Header.Get("Content-Disposition") != `attachment; filename="utilization-`+from+`-to-`+to+d.file+`"` || res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d %v", d.path, res.StatusCode, res.Header)
			}
			if d.file == ".csv" && (!strings.Contains(body, "pool,devices_at_end,,2") || strings.Contains(body, "B Fund")) {
				t.Errorf("the funder's CSV:\n%s", body)
			}
			form.Del("_csrf")
			if res, _ := f.send("POST", d.path, form); res.StatusCode != 403 {
				t.Errorf("%s without its token: %d", d.path, res.StatusCode)
			}
		}

		// A coordinator: every source, and no source select.
		_, coEmail := e.staff(accounts.Coordinator, browserPassword)
		k := e.pageClient()
		k.signIn(coEmail, browserPassword)
		status, _, page = k.postReport("/reports", "from", from, "to", to)
		if status != 200 || !strings.Contains(page, devicesAtEnd("5")) || !strings.Contains(page, "<td>All</td>") || strings.Contains(page, `name="funding_source_id"`) {
			t.Errorf("a coordinator's report: %d\n%s", status, page)
		}
		status, _, page = k.postReport("/reports", "from", from, "to", to, "kind", "phone")
		if status != 200 || !strings.Contains(page, devicesAtEnd("3")) || !strings.Contains(page, `<option value="phone" selected>`) {
			t.Errorf("a coordinator's report of phones: %d\n%s", status, page)
		}

		// A social worker: the 403 page, and no link.
		_, swEmail := e.staff(accounts.SocialWorker, browserPassword)
		w := e.pageClient()
		w.signIn(swEmail, browserPassword)
		if _, home := w.send("GET", "/", nil); strings.Contains(home, `href="/reports"`) {
			t.Errorf("a social worker's home page links to the report")
		}
		for _, method := range []string{"GET", "POST"} {
			form := url.Values{"_csrf": {w.token("/password")}, "from": {from}, "to": {to}}
			if method == "GET" {
				form = nil
			}
			res, body := w.send(method, "/reports", form)
			if res.StatusCode != 403 || !strings.Contains(body, "You cannot open this page") {
				t.Errorf("a social worker %s /reports: %d\n%s", method, res.StatusCode, body)
			}
		}
	})
}

// Bad input is shown next to each field and summed up at the top, with
// the API's words and a funder's bounds (whole months, an area).
func TestReportPageBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, coEmail := e.staff(accounts.Coordinator, browserPassword)
		k := e.pageClient()
		k.signIn(coEmail, browserPassword)
		status, _, page := k.postReport("/reports", "from", "2026-02-30", "to", "", "kind", "drone", "postal_prefix", "60%")
		for _, field := range []string{"from", "to", "kind", "postal_prefix"} {
			if !strings.Contains(page, `id="f-`+field+`-error"`) || !strings.Contains(page, `<a href="#f-`+field+`">`) {
				t.Errorf("the error of %s is not in place and at the top", field)
			}
		}
		if status != 422 || !strings.Contains(page, "is required: the last day, YYYY-MM-DD") || !strings.Contains(page, `value="2026-02-30"`) || strings.Contains(page, "Devices at end") {
			t.Errorf("a bad report form: %d\n%s", status, page)
		}
		status, _, page = k.postReport("/reports.csv", "from", "2026-03-01", "to", "2026-02-01")
		if status != 422 || !strings.Contains(page, "must not be before from") {
			t.Errorf("a bad CSV download: %d\n%s", status, page)
		}

		_, funderEmail := e.staff(accounts.Funder, browserPassword)
		f := e.pageClient()
		f.signIn(funderEmail, browserPassword)
		status, _, page = f.postReport("/reports", "from", "2026-01-02", "to", "2026-01-30", "postal_prefix", "M4A")
		if status != 422 || !strings.Contains(page, "must be the first day of a month") || !strings.Contains(page, "must be the last day of a month") || strings.Contains(page, `id="f-postal_prefix-error"`) {
			t.Errorf("a funder's report of part of a month: %d\n%s", status, page)
		}
		status, _, page = f.postReport("/reports", "from", "2026-01-01", "to", "2026-01-31", "postal_prefix", "M4A 1")
		if status != 422 || !strings.Contains(page, `id="f-postal_prefix-error"`) || !strings.Contains(page, "an area, not a street") {
			t.Errorf("a funder's report of a street: %d\n%s", status, page)
		}
		if status, _, page = f.postReport("/reports", "from", "2026-01-01", "to", "2026-01-31", "postal_prefix", "M4A"); status != 200 || !strings.Contains(page, "starts with M4A") {
			t.Errorf("a funder's report of an area: %d\n%s", status, page)
		}
	})
}
