package web_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agreements"
)

const termsURL = v1 + "/agreement/terms"

// terms reads the current terms for a language query ("" for none).
func (e *env) terms(token, query string) map[string]any {
	e.t.Helper()
	p := termsURL
	if query != "" {
		p += "?language=" + query
	}
	return e.must(200, token, "GET", p, nil).JSON(e.t)
}

// termsEvents are the agreement_terms.created events, oldest first.
func (e *env) termsEvents() []map[string]any {
	e.t.Helper()
	var rows []struct {
		ActorID *int64 `bun:"actor_id"`
		Changes string `bun:"changes"`
	}
	if err := e.db.NewSelect().Table("audit_events").Column("actor_id", "changes").
		Where("action = 'agreement_terms.created'").Order("id").Scan(context.Background(), &rows); err != nil {
		e.t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range rows {
		var m map[string]any
		if err := json.Unmarshal([]byte(r.Changes), &m); err != nil {
			e.t.Fatal(err)
		}
		if r.ActorID != nil {
			m["actor_id"] = float64(*r.ActorID)
		}
		out = append(out, m)
	}
	return out
}

func TestAgreementTermsShipped(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, coord := e.user(accounts.Coordinator)
		seen := map[string]bool{}
		for _, lang := range []string{"en", "es", "fr"} {
			want, ok := agreements.Shipped(lang)
			if !ok || len(want) < 1000 {
				t.Fatalf("no shipped terms in %s", lang)
			}
			if seen[want] {
				t.Fatalf("the %s terms are a copy of another language's", lang)
			}
			seen[want] = true
			got := e.terms(coord, lang)
			if got["language"] != lang || got["version"] != float64(1) || got["body"] != want || got["created_by"] != nil {
				t.Fatalf("%s terms: %v", lang, got)
			}
			if _, ok := got["requested_language"]; ok {
				t.Fatalf("%s terms say they fell back: %v", lang, got)
			}
			again := e.must(200, coord, "GET", termsURL+"/versions/"+lang+"/1", nil).JSON(t)
			if again["body"] != want || again["created_at"] != got["created_at"] {
				t.Fatalf("%s version 1 read by number: %v, want %v", lang, again, got)
			}
		}
		if got := e.terms(coord, ""); got["language"] != "en" || got["version"] != float64(1) {
			t.Fatalf("terms with no language: %v", got)
		}
		// A regional code reads its language's terms.
		if got := e.terms(coord, "es-MX"); got["language"] != "es" || got["requested_language"] != nil {
			t.Fatalf("es-MX terms: %v", got)
		}
		// A language the agency has no terms in falls back to English, and
		// says so.
		en, _ := agreements.Shipped("en")
		if got := e.terms(coord, "de"); got["language"] != "en" || got["requested_language"] != "de" || got["body"] != en {
			t.Fatalf("de terms: %v", got)
		}
		e.must(404, coord, "GET", termsURL+"/versions/de/1", nil)
		e.must(404, coord, "GET", termsURL+"/versions/es/2", nil)
		e.must(404, coord, "GET", termsURL+"/versions/es/first", nil)
		if r := e.must(422, coord, "GET", termsURL+"/versions/zz/1", nil); r.ErrorFields(t)["language"] == nil {
			t.Fatalf("unknown language in the path: %s", r.Body)
		}
		if evs := e.termsEvents(); len(evs) != 0 {
			t.Fatalf("reading the shipped terms recorded %v", evs)
		}
	})
}

func TestAgreementTermsNewVersion(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		adminID, admin := e.user(accounts.Admin)
		_, coord := e.user(accounts.Coordinator)
		shippedES, _ := agreements.Shipped("es")
		body := "  El dispositivo es de la agencia.\r\n\r\n\r\n\tDevuélvalo a tiempo.   \n"
		r := e.must(201, admin, "PUT", termsURL+"?language=es", map[string]any{"body": body}, "Idempotency-Key", "terms-es")
		made := r.JSON(t)
		want := "El dispositivo es de la agencia.\n\n\tDevuélvalo a tiempo."
		if made["language"] != "es" || made["version"] != float64(2) || made["body"] != want || made["created_by"] != float64(adminID) {
			t.Fatalf("saved terms: %v", made)
		}
		if loc := r.Header.Get("Location"); loc != termsURL+"/versions/es/2" {
			t.Fatalf("Location %q", loc)
		}
		// The new version is current; the shipped one stays readable.
		if got := e.terms(coord, "es"); got["version"] != float64(2) || got["body"] != want {
			t.Fatalf("current es terms: %v", got)
		}
		if got := e.must(200, coord, "GET", termsURL+"/versions/es/1", nil).JSON(t); got["body"] != shippedES {
			t.Fatalf("es version 1 after a save: %v", got)
		}
		// Other languages are untouched.
		if got := e.terms(coord, "fr"); got["version"] != float64(1) {
			t.Fatalf("fr terms: %v", got)
		}
		// A resend is answered with the version it made, and makes no other.
		again := e.must(201, admin, "PUT", termsURL+"?language=es", map[string]any{"body": body}, "Idempotency-Key", "terms-es")
		if again.Header.Get("Idempotent-Replayed") != "true" || again.JSON(t)["version"] != float64(2) {
			t.Fatalf("resend: %s %v", again.Body, again.Header)
		}
		// The same key and body for another language is another request.
		other := e.must(422, admin, "PUT", termsURL+"?language=fr", map[string]any{"body": body}, "Idempotency-Key", "terms-es")
		if !strings.Contains(string(other.Body), "different request") {
			t.Fatalf("same key, other language: %s", other.Body)
		}
		// A language with no shipped terms starts at version 1, and is
		// then printed in its own language.
		de := e.must(201, admin, "PUT", termsURL+"?language=de", map[string]any{"body": "Das Gerät gehört der Agentur."}).JSON(t)
		if de["language"] != "de" || de["version"] != float64(1) {
			t.Fatalf("de terms: %v", de)
		}
		if got := e.terms(coord, "de-AT"); got["language"] != "de" || got["requested_language"] != nil {
			t.Fatalf("de-AT terms: %v", got)
		}
		// Characters are counted, not bytes: 20,000 two-byte letters fit.
		long := e.must(201, admin, "PUT", termsURL+"?language=fr", map[string]any{"body": strings.Repeat("é", agreements.MaxTermsLength)}).JSON(t)
		if long["version"] != float64(2) {
			t.Fatalf("long fr terms: version %v", long["version"])
		}
		evs := e.termsEvents()
		wantEvs := []map[string]any{
			{"language": "es", "version": float64(2), "characters": float64(len([]rune(want))), "actor_id": float64(adminID)},
			{"language": "de", "version": float64(1), "characters": float64(29), "actor_id": float64(adminID)},
			{"language": "fr", "version": float64(2), "characters": float64(agreements.MaxTermsLength), "actor_id": float64(adminID)},
		}
		if len(evs) != len(wantEvs) {
			t.Fatalf("audit events %v, want %v", evs, wantEvs)
		}
		for i := range evs {
			for k, v := range wantEvs[i] {
				if evs[i][k] != v {
					t.Fatalf("audit event %d: %v, want %v", i, evs[i], wantEvs[i])
				}
			}
		}
	})
}

func TestAgreementTermsBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		cases := []struct {
			name, language string
			body           any
			field          string
		}{
			{"no body", "es", map[string]any{}, "body"},
			{"blank body", "es", map[string]any{"body": " \n\n\t "}, "body"},
			{"too long", "es", map[string]any{"body": strings.Repeat("é", agreements.MaxTermsLength+1)}, "body"},
			{"NUL", "es", map[string]any{"body": "Return the device.\x00"}, "body"},
			{"bell", "es", map[string]any{"body": "Return the \a device."}, "body"},
			{"lone carriage return", "es", map[string]any{"body": "Return\rthe device."}, "body"},
			{"unknown language", "xx", map[string]any{"body": "Return the device."}, "language"},
			{"malformed language", "e1", map[string]any{"body": "Return the device."}, "language"},
			{"undetermined language", "und", map[string]any{"body": "Return the device."}, "language"},
			{"long language", strings.Repeat("es-", 20) + "es", map[string]any{"body": "Return the device."}, "language"},
			{"body not a string", "es", map[string]any{"body": 7}, "body"},
		}
		for _, tc := range cases {
			r := e.do(admin, "PUT", termsURL+"?language="+tc.language, tc.body)
			if r.Status != 422 || r.ErrorFields(t)[tc.field] == nil {
				t.Fatalf("%s: %d %s, want 422 naming %s", tc.name, r.Status, r.Body, tc.field)
			}
		}
		// Both fields at once.
		if f := e.must(422, admin, "PUT", termsURL+"?language=zz", map[string]any{"body": ""}).ErrorFields(t); f["body"] == nil || f["language"] == nil {
			t.Fatalf("both bad: %v", f)
		}
		if r := e.must(422, admin, "GET", termsURL+"?language=zz", nil); r.ErrorFields(t)["language"] == nil {
			t.Fatalf("GET with an unknown language: %s", r.Body)
		}
		if got := e.terms(admin, "es"); got["version"] != float64(1) {
			t.Fatalf("es terms after bad saves: %v", got)
		}
		e.must(404, admin, "GET", termsURL+"/versions/es/2", nil)
		if evs := e.termsEvents(); len(evs) != 0 {
			t.Fatalf("bad saves recorded %v", evs)
		}
	})
}

// Saves at once in one language each make their own version, numbered one
// after the other.
func TestAgreementTermsConcurrentSaves(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		const n = 4
		versions := make([]int, n)
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do(admin, "PUT", termsURL+"?language=fr", map[string]any{"body": "Version " + string(rune('A'+i))})
				statuses[i] = r.Status
				var out struct{ Version int }
				json.Unmarshal(r.Body, &out)
				versions[i] = out.Version
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 201 {
				t.Fatalf("save %d answered %d", i, st)
			}
		}
		slices.Sort(versions)
		if !slices.Equal(versions, []int{2, 3, 4, 5}) {
			t.Fatalf("versions %v, want 2 to 5", versions)
		}
		for v := 1; v <= 5; v++ {
			e.must(200, admin, "GET", path(termsURL+"/versions/fr/%d", v), nil)
		}
		if got := e.terms(admin, "fr"); got["version"] != float64(5) {
			t.Fatalf("current fr terms: %v", got)
		}
	})
}

// A saved version cannot be changed or removed, even by SQL that goes
// around the service.
func TestAgreementTermsRowsNeverChange(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		before := e.terms(admin, "es")
		ctx := context.Background()
		if _, err := e.db.ExecContext(ctx, "UPDATE agreement_terms SET body = 'changed' WHERE language = 'es'"); err == nil {
			t.Error("an UPDATE of a terms version went through")
		}
		if _, err := e.db.ExecContext(ctx, "DELETE FROM agreement_terms WHERE language = 'es'"); err == nil {
			t.Error("a DELETE of a terms version went through")
		}
		if after := e.terms(admin, "es"); after["body"] != before["body"] || after["version"] != before["version"] {
			t.Fatalf("es terms %v, were %v", after, before)
		}
	})
}
