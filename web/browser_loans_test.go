package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/devicebank/devicebank/accounts"
)

// download clicks the link sel and returns the file the browser saved.
func (b *browser) download(sel string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	if err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &[]bool{true}[0]})
		return err
	}), chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("download %s: %v", sel, err)
	}
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download %s: %v", sel, err)
		}
		if ev.State != cdpbrowser.DownloadProgressStateCompleted {
			continue
		}
		body, err := os.ReadFile(filepath.Join(dir, ev.GUID))
		if err != nil {
			b.t.Fatal(err)
		}
		return body
	}
	b.t.Fatalf("download %s: nothing came", sel)
	return nil
}

// value is the value of the form control sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// focused is the name of the form control that has the focus.
func (b *browser) focused() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement ? (document.activeElement.name || document.activeElement.tagName) : ""`))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// drawSignature draws a stroke on the page's canvas with synthesized
// pointer events, as a stylus would.
func (b *browser) drawSignature() {
	b.t.Helper()
	b.eval(`(function () {
		const c = document.querySelector("canvas"), r = c.getBoundingClientRect();
		const at = (type, x, y) => c.dispatchEvent(new PointerEvent(type, {pointerId: 7, pointerType: "pen", isPrimary: true,
			bubbles: true, cancelable: true, buttons: type === "pointerup" ? 0 : 1, clientX: r.left + x * r.width, clientY: r.top + y * r.height}));
		at("pointerdown", 0.1, 0.6);
		for (let i = 1; i <= 30; i++) at("pointermove", 0.1 + i * 0.026, 0.5 + 0.25 * Math.sin(i / 3));
		at("pointerup", 0.88, 0.5);
	})()`)
}

// A coordinator issues a tablet against a ready request by its scanned
// tag, the client signs on the canvas, the signed agreement downloads; a
// second coordinator issuing the same tablet in another browser is told it
// is gone; the tablet is checked in by its tag and inspected back into the
// pool. Every page is checked as every page is.
func TestBrowserLoans(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client, request, tag, device := e.readyTablet(sw, co)
		_, email := e.staff(accounts.Coordinator, browserPassword)
		_, email2 := e.staff(accounts.Coordinator, browserPassword)

		b := e.browser()
		b.signIn(email, browserPassword)
		if !strings.Contains(b.text("header nav"), "Check in") {
			t.Errorf("a coordinator's navigation: %q", b.text("header nav"))
		}
		if status := b.open("/loans/new"); status != 200 || b.text("h1") != "Issue a device" {
			t.Fatalf("GET /loans/new: %d, %q", status, b.text("h1"))
		}
		// The scan field has the focus, and gets it back from a click on
		// the page's background.
		if got := b.focused(); got != "asset_tag" {
			t.Errorf("the focus on the issue page: %q", got)
		}
		b.eval(`document.activeElement.blur(); document.querySelector("h1").click()`)
		time.Sleep(50 * time.Millisecond)
		if got := b.focused(); got != "asset_tag" {
			t.Errorf("the focus after a click on the page: %q", got)
		}
		b.check("loans-issue")

		// Nothing chosen: the errors in place.
		b.fill("due_on", "")
		if status := b.submit(`main form button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-request_id-error"), "choose the ready request") ||
			b.text("#f-asset_tag-error") == "" || b.text("#f-due_on-error") == "" {
			t.Errorf("an empty issue form: %d, %q", status, b.text("main"))
		}
		b.check("loans-issue-errors")

		// Two coordinators fill the same form; the first to send it lends
		// the tablet, the second is told in place.
		b2 := e.browser()
		b2.signIn(email2, browserPassword)
		for _, br := range []*browser{b, b2} {
			br.open("/loans/new")
			if err := chromedp.Do(br.ctx, chromedp.Click(chromedp.CSS(`#f-request_id`))); err != nil {
				t.Fatal(err)
			}
			br.fill("asset_tag", tag)
		}
		if status := b.submit(`main form button[type="submit"]`); status != 200 || b.text("h1") != "Sign the agreement" {
			t.Fatalf("issue: %d, %q", status, b.text("main"))
		}
		if status := b2.submit(`main form button[type="submit"]`); status != 409 || !strings.Contains(b2.text(".error-summary"), "not available") {
			t.Errorf("the same tablet from another browser: %d, %q", status, b2.text(".error-summary"))
		}
		if got := b2.value("#f-asset_tag"); got != tag {
			t.Errorf("the tag typed in the second browser is not kept: %q", got)
		}
		b2.check("loans-issue-conflict")
		if n := e.loansAt(co, path("?device_id=%d", device)); n != 1 {
			t.Fatalf("%d loans of the tablet", n)
		}
		loan := int64(e.must(200, co, "GET", path(v1+"/loans?client_id=%d", client), nil).JSON(t)["items"].([]any)[0].(map[string]any)["id"].(float64))

		// The signing page: the pad, shown by its script, chosen.
		if visible, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!document.querySelector(".signature-pad").hidden && document.querySelector('input[value="drawn"]').checked`)); err != nil || !visible {
			t.Errorf("the signature pad is not offered: %v", err)
		}
		b.check("loans-sign")
		// Sent before anything is drawn: told in place, nothing signed.
		if status := b.submit(`#sign-form button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-signature_png-error"), "is required with method drawn") {
			t.Errorf("an empty pad: %d, %q", status, b.text("main"))
		}
		b.check("loans-sign-errors")
		e.must(404, co, "GET", path(v1+"/loans/%d/agreement", loan), nil)
		b.drawSignature()
		if status := b.submit(`#sign-form button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), "The agreement was signed") {
			t.Fatalf("sign: %d, %q", status, b.text("main"))
		}
		if a := e.must(200, co, "GET", path(v1+"/loans/%d/agreement", loan), nil).JSON(t); a["method"] != "drawn" {
			t.Errorf("the signing recorded: %v", a)
		}
		b.check("loans-view")
		pdf := b.download(`a[href$="/agreement.pdf"]`)
		if !strings.HasPrefix(string(pdf), "%PDF") || len(pdf) < 1000 {
			t.Errorf("the agreement downloaded: %d bytes, %q", len(pdf), pdf[:min(len(pdf), 8)])
		}

		// The client's social worker sees the loan and its signed
		// agreement; another worker gets the 404 page.
		me := e.must(200, sw, "GET", v1+"/me", nil).JSON(t)
		w := e.browser()
		w.signIn(me["email"].(string), browserPassword)
		if status := w.open(path("/loans/%d", loan)); status != 200 || !strings.Contains(w.text(".facts"), "Signed") || strings.Contains(w.text("main"), "Renew") {
			t.Errorf("the social worker's view of the loan: %d, %q", status, w.text("main"))
		}
		w.check("loans-view-social-worker")
		_, otherWorker := e.staff(accounts.SocialWorker, browserPassword)
		w2 := e.browser()
		w2.signIn(otherWorker, browserPassword)
		if status := w2.open(path("/loans/%d", loan)); status != 404 || w2.text("h1") != "Page not found" {
			t.Errorf("another worker's view of the loan: %d, %q", status, w2.text("h1"))
		}

		if status := b.open("/loans?status=open"); status != 200 || !strings.Contains(b.text("table"), path("Loan %d", loan)) {
			t.Errorf("the open loans: %d, %q", status, b.text("main"))
		}
		b.check("loans")

		// Check-in by the tag, typed in lower case as a person might.
		if status := b.open("/checkin"); status != 200 || b.focused() != "asset_tag" {
			t.Fatalf("GET /checkin: %d, focus %q", status, b.focused())
		}
		b.check("loans-checkin")
		b.fill("asset_tag", strings.ToLower(tag))
		if status := b.submit(`main form[method="get"] button`); status != 200 || !strings.Contains(b.text("main"), path("loan %d", loan)) {
			t.Fatalf("find the loan: %d, %q", status, b.text("main"))
		}
		b.check("loans-checkin-found")
		b.fill("condition", "fair", "notes", "a scratch on the back")
		if status := b.submit(`main form[method="post"] button`); status != 200 || b.text("h1") != "Inspect "+tag {
			t.Fatalf("return: %d, %q", status, b.text("main"))
		}
		b.check("loans-inspection")
		// Back into the pool only with the wipe confirmed.
		if status := b.submit(`main form button[type="submit"]`); status != 422 || !strings.Contains(b.text("#f-wiped-error"), "wiped") {
			t.Errorf("ready without the wipe: %d, %q", status, b.text("main"))
		}
		b.check("loans-inspection-errors")
		if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`#f-wiped`))); err != nil {
			t.Fatal(err)
		}
		if status := b.submit(`main form button[type="submit"]`); status != 200 || !strings.Contains(b.text(".notice"), tag+" was inspected: it is available again") {
			t.Fatalf("inspect: %d, %q", status, b.text("main"))
		}
		b.check("loans-checkin-inspected")
		if d := e.must(200, co, "GET", path(v1+"/devices/%d", device), nil).JSON(t); d["status"] != "available" {
			t.Errorf("the tablet after its inspection: %v", d["status"])
		}
		_ = request
	})
}
