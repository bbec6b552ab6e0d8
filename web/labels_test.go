package web_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

const labelsURL = v1 + "/devices/labels.pdf"

// A sheet of asset labels prints the agency's name and every tag, as text
// and as barcodes a scanner reads (Code 128 and QR), on Letter by default
// and on A4, with more devices than one sheet holds going on to page 2.
// The same request is the same bytes, and the answer is a download that
// is not stored.
func TestDeviceLabels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnvWith(t, db, app.Options{RemindNowInterval: -1, AgencyName: "Northside Family Services"})
		_, co := e.user(accounts.Coordinator)
		var ids []string
		var tags []string
		for range 25 {
			id := e.device(co, "phone")
			ids = append(ids, fmt.Sprint(id))
			tags = append(tags, e.must(200, co, "GET", path(v1+"/devices/%d", id), nil).JSON(t)["asset_tag"].(string))
		}
		for _, tc := range []struct {
			query   string
			onPage1 int // labels on the first page
		}{{"", 25}, {"&paper=letter", 25}, {"&paper=a4", 24}} {
			url := labelsURL + "?ids=" + strings.Join(ids, ",") + tc.query
			r := e.must(200, co, "GET", url, nil)
			for name, want := range map[string]string{"Content-Type": "application/pdf",
				"Content-Disposition":    `attachment; filename="asset-labels.pdf"`,
				"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := r.Header.Get(name); got != want {
					t.Errorf("%s: %s %q, want %q", url, name, got, want)
				}
			}
			if again := e.must(200, co, "GET", url, nil); !bytes.Equal(r.Body, again.Body) {
				t.Errorf("%s: the same labels printed twice differ", url)
			}
			page1 := slices.Sorted(slices.Values(tags[:tc.onPage1]))
			for _, sym := range []string{doctest.Code128, doctest.QRCode} {
				got := doctest.Barcodes(t, r.Body, 1, sym)
				slices.Sort(got)
				if !slices.Equal(got, page1) {
					t.Errorf("%s: page 1 scans as %s %v, want %v", url, sym, got, page1)
				}
			}
			text := doctest.Text(t, r.Body)
			if n := strings.Count(text, "Northside Family Services"); n != len(tags) {
				t.Errorf("%s: the agency is named on %d labels, want %d", url, n, len(tags))
			}
			for _, tag := range tags {
				if !strings.Contains(text, tag) {
					t.Errorf("%s: the labels do not say %q", url, tag)
				}
			}
		}
		// Only the chosen devices, in the order asked.
		two := e.must(200, co, "GET", labelsURL+"?ids="+ids[3]+","+ids[1], nil)
		if got := doctest.Barcodes(t, two.Body, 1, doctest.QRCode); !slices.Equal(got, []string{tags[3], tags[1]}) &&
			!slices.Equal(got, []string{tags[1], tags[3]}) {
			t.Errorf("labels for devices %s and %s scan as %v", ids[3], ids[1], got)
		}
	})
}

// Bad label requests are each answered 422 naming the parameter.
func TestDeviceLabelsBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		a, b := e.device(co, "phone"), e.device(co, "laptop")
		many := make([]string, 301)
		for i := range many {
			many[i] = fmt.Sprint(i + 1)
		}
		for _, tc := range []struct{ query, field, says string }{
			{"", "ids", "is required"},
			{"?ids=", "ids", "is required"},
			{"?ids=" + strings.Join(many, ","), "ids", "at most 300"},
			{path("?ids=%d,%d,%d", a, b, a), "ids", fmt.Sprintf("device %d is listed twice", a)},
			{path("?ids=%d,x", a), "ids", `"x" is not one`},
			{path("?ids=%d,-2", a), "ids", `"-2" is not one`},
			{path("?ids=%d,1.5", a), "ids", `"1.5" is not one`},
			{path("?ids=%d,%d,%d", b+1000, a, b+2000), "ids", fmt.Sprintf("no device has the id %d, %d", b+1000, b+2000)},
			{path("?ids=%d&paper=legal", a), "paper", "must be letter or a4"},
			{path("?ids=%d&paper=A4", a), "paper", "must be letter or a4"},
		} {
			r := e.do(co, "GET", labelsURL+tc.query, nil)
			if r.Status != 422 || r.ErrorCode(t) != "invalid" {
				t.Errorf("%q: status %d %s, want 422 invalid", tc.query, r.Status, r.Body)
				continue
			}
			if got, _ := r.ErrorFields(t)[tc.field].(string); !strings.Contains(got, tc.says) {
				t.Errorf("%q: %s says %q, want it to say %q", tc.query, tc.field, got, tc.says)
			}
		}
		// A tag a Code 128 barcode cannot hold is named, not a 500.
		e.must(200, co, "PATCH", path(v1+"/devices/%d", b), map[string]any{"asset_tag": "Ноутбук-7"})
		r := e.do(co, "GET", labelsURL+path("?ids=%d,%d", a, b), nil)
		if got, _ := r.ErrorFields(t)["ids"].(string); r.Status != 422 || !strings.Contains(got, fmt.Sprint(b)) {
			t.Errorf("labels for a device with a Cyrillic tag: %d %s, want 422 naming device %d", r.Status, r.Body, b)
		}
	})
}
