package web_test

import (
	"bytes"
	"compress/gzip"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/web"
)

// gzipBomb is a gzip body of about 0.5 MB that inflates to 512 MiB of
// zeros, built once.
var gzipBomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 512; i++ {
		w.Write(zeros)
	}
	w.Close()
	return buf.Bytes()
})

// totalAlloc is how many bytes the process has allocated so far.
func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// A compressed request body is refused with 415 before anything reads it,
// on every route, signed in or not: inflating it would take hundreds of
// megabytes for a body of a few hundred kilobytes.
func TestCompressedBodiesAreRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.client(sw)
		sms := e.withSMS()
		bomb := gzipBomb()
		if len(bomb) >= web.DefaultBodyLimit {
			t.Fatalf("the bomb is %d bytes, over the body limit", len(bomb))
		}
		before := e.world(admin)

		for _, rq := range []struct {
			via          *env
			token        string
			method, path string
		}{
			{e, "", "POST", "/api/v1/auth/token"},
			{sms, "", "POST", "/api/v1/sms/inbound"},
			{e, sw, "POST", "/api/v1/clients"},
			{e, sw, "PATCH", path("/api/v1/clients/%d", client)},
			{e, co, "POST", "/api/v1/devices"},
			{e, co, "GET", "/api/v1/devices"},
			{e, co, "POST", "/api/v1/nothing-here"},
		} {
			t.Run(rq.method+" "+rq.path, func(t *testing.T) {
				// Allocations by anything else running meanwhile are small
				// beside what inflating the body would take.
				const bound = 64 << 20
				start := totalAlloc()
				r := rq.via.do(rq.token, rq.method, rq.path, bomb, "Content-Encoding", "gzip", "Idempotency-Key", "bomb-1")
				if grew := totalAlloc() - start; grew > bound {
					t.Errorf("the server allocated %d MiB for a %d KiB compressed body", grew>>20, len(bomb)>>10)
				}
				expectError(t, r, 415, "unsupported_media_type")
				if got := r.Header.Get("Accept-Encoding"); got != "identity" {
					t.Errorf("Accept-Encoding %q on the 415, want identity", got)
				}
			})
		}

		// Any coding but identity, however it is written, is refused; the
		// body is not looked at.
		valid := clientBody("ENC-1", nil)
		for _, coding := range []string{"gzip", "GZIP", "deflate", "br", "x-gzip", "compress", "zstd", "identity, gzip", "gzip, identity", "made-up"} {
			expectError(t, e.do(sw, "POST", "/api/v1/clients", valid, "Content-Encoding", coding), 415, "unsupported_media_type")
		}
		e.unchanged(admin, before, "compressed requests")
		// identity is no coding at all, however it is written: the body
		// is read as sent.
		e.must(201, sw, "POST", "/api/v1/clients", valid, "Content-Encoding", "identity")
		for i, coding := range [][]string{{"IDENTITY"}, {"identity, identity"}, {"identity,"}, {"identity", "identity"}} {
			var headers []string
			for _, line := range coding {
				headers = append(headers, "Content-Encoding", line)
			}
			e.must(201, sw, "POST", "/api/v1/clients", clientBody(path("ENC-ID-%d", i), nil), headers...)
		}
	})
}

// Every answer says not to guess its type; every answer but the OpenAPI
// document says not to store it, since most carry client records or tokens.
func TestSecurityHeaders(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.client(sw)
		device := e.device(co, "phone")
		check := func(t *testing.T, what string, r *response, store bool) {
			t.Helper()
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s (%d): X-Content-Type-Options %q, want nosniff", what, r.Status, got)
			}
			want := "no-store"
			if store {
				want = ""
			}
			if got := r.Header.Get("Cache-Control"); got != want {
				t.Errorf("%s (%d): Cache-Control %q, want %q", what, r.Status, got, want)
			}
		}

		// The document says so once, for every answer.
		desc, _ := loadOpenAPIDoc(t).root["info"].(map[string]any)["description"].(string)
		for _, h := range []string{"`X-Content-Type-Options: nosniff`", "`Cache-Control: no-store`"} {
			if !strings.Contains(desc, h) {
				t.Errorf("the OpenAPI document's description does not mention %s", h)
			}
		}

		check(t, "the OpenAPI document", e.must(200, "", "GET", "/api/v1/openapi.json", nil), true)
		body := clientBody("HDR-1", nil)
		for what, r := range map[string]*response{
			"a client":              e.must(200, sw, "GET", path("/api/v1/clients/%d", client), nil),
			"a list of clients":     e.must(200, sw, "GET", "/api/v1/clients", nil),
			"a new client":          e.must(201, sw, "POST", "/api/v1/clients", body, "Idempotency-Key", "hdr-1"),
			"a replayed client":     e.must(201, sw, "POST", "/api/v1/clients", body, "Idempotency-Key", "hdr-1"),
			"a new token":           e.must(201, sw, "POST", "/api/v1/tokens", map[string]any{"name": "laptop"}),
			"a device":              e.must(200, co, "GET", path("/api/v1/devices/%d", device), nil),
			"an invalid body":       e.do(sw, "POST", "/api/v1/clients", map[string]any{"first_name": 1}),
			"another's client":      e.do(co, "GET", path("/api/v1/clients/%d", client), nil),
			"no token":              e.do("", "GET", "/api/v1/clients", nil),
			"a forbidden route":     e.do(sw, "POST", "/api/v1/devices", map[string]any{}),
			"no such route":         e.do(sw, "GET", "/api/v1/nothing-here", nil),
			"no such method":        e.do(sw, "DELETE", "/api/v1/clients", nil),
			"a compressed body":     e.do(sw, "POST", "/api/v1/clients", body, "Content-Encoding", "gzip"),
			"a body over the limit": e.postHead(sw, "/api/v1/clients", 2*web.DefaultBodyLimit),
			"a route in capitals":   e.must(200, sw, "GET", path("/API/V1/CLIENTS/%d", client), nil),
			"the health check":      e.must(200, "", "GET", "/healthz", nil),
			"the home page":         e.must(200, "", "GET", "/", nil),
			"a page that is not":    e.do("", "GET", "/nothing-here", nil, "Accept", "text/html"),
		} {
			check(t, what, r, false)
		}

		// Every route, answered before or after its handler runs.
		for _, rt := range web.New(e.svc, web.Config{}).Routes() {
			p := strings.NewReplacer(":id", "1", ":client_id", "1", ":module", "basics").Replace(rt.Path)
			check(t, rt.Method+" "+rt.Path+" without a token", e.do("", rt.Method, p, nil), rt.Path == "/api/v1/openapi.json")
		}
	})
}
