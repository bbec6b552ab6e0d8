package web_test

// These tests keep openapi.json, the API description the server serves, in
// step with the code: every route and only routes, the roles that may use
// each, the fields and enums of the domain types, and real answers of a
// running server checked against the schemas the document gives for them.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/retention"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/training"
	"github.com/devicebank/devicebank/web"
)

// openAPIFile is the document the server embeds (go:embed in server.go).
const openAPIFile = "openapi.json"

// apiDoc is the parsed document. Numbers are kept as json.Number so that
// integers can be told from other numbers.
type apiDoc struct {
	raw  []byte
	root map[string]any
}

func loadOpenAPIDoc(t testing.TB) *apiDoc {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeDocJSON(raw)
	if err != nil {
		t.Fatalf("%s is not valid JSON: %v", openAPIFile, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", openAPIFile)
	}
	return &apiDoc{raw: raw, root: root}
}

// decodeDocJSON decodes exactly one JSON value, keeping numbers as json.Number.
func decodeDocJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more data after the JSON value")
	}
	return v, nil
}

// lookup resolves a local JSON pointer such as "#/components/schemas/Device".
func (d *apiDoc) lookup(ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = d.root
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref until it reaches an object that is not a reference.
func (d *apiDoc) deref(t testing.TB, v any) map[string]any {
	t.Helper()
	for range 20 {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("expected an object in %s, got %T", openAPIFile, v)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		if v, ok = d.lookup(ref); !ok {
			t.Fatalf("$ref %q does not resolve", ref)
		}
	}
	t.Fatalf("$ref chain too long in %s", openAPIFile)
	return nil
}

func (d *apiDoc) schema(t testing.TB, name string) map[string]any {
	t.Helper()
	v, ok := d.lookup("#/components/schemas/" + name)
	if !ok {
		t.Fatalf("%s has no schema %s", openAPIFile, name)
	}
	return d.deref(t, v)
}

// docOperation is one method of one path in the document.
type docOperation struct {
	method string // upper case, as Fiber spells it
	path   string
	item   map[string]any
	op     map[string]any
}

func (o docOperation) key() string { return o.method + " " + o.path }

var docOperationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// docPathItemKeys are the other keys a path item may have. Anything else (a
// misspelt method, say) is an error rather than something silently ignored.
var docPathItemKeys = []string{"parameters", "summary", "description", "servers"}

func (d *apiDoc) operations(t testing.TB) []docOperation {
	t.Helper()
	paths, ok := d.root["paths"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no paths object", openAPIFile)
	}
	var ops []docOperation
	for p, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("path %s is not an object", p)
		}
		for k, ov := range item {
			if slices.Contains(docOperationKeys, k) {
				op, ok := ov.(map[string]any)
				if !ok {
					t.Fatalf("%s %s is not an object", k, p)
				}
				ops = append(ops, docOperation{method: strings.ToUpper(k), path: p, item: item, op: op})
			} else if !slices.Contains(docPathItemKeys, k) {
				t.Errorf("path %s has an unknown key %q (a misspelt method?)", p, k)
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].key() < ops[j].key() })
	return ops
}

// params returns an operation's parameters, path-level ones included, by
// "in:name" (for example "query:limit", "header:Idempotency-Key").
func (d *apiDoc) params(t testing.TB, o docOperation) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, src := range []map[string]any{o.item, o.op} {
		list, _ := src["parameters"].([]any)
		for _, pv := range list {
			p := d.deref(t, pv)
			name, _ := p["name"].(string)
			in, _ := p["in"].(string)
			out[in+":"+name] = p
		}
	}
	return out
}

// The media types of request bodies the server reads: JSON everywhere, and
// the form the SMS provider posts to its webhook.
const (
	docJSON = "application/json"
	docForm = "application/x-www-form-urlencoded"
)

// requestBody is an operation's request body object, or nil.
func (d *apiDoc) requestBody(t testing.TB, o docOperation) map[string]any {
	t.Helper()
	rb, ok := o.op["requestBody"]
	if !ok {
		return nil
	}
	return d.deref(t, rb)
}

// requestBodySchema is the schema an operation's request body has in
// mediaType, or nil.
func (d *apiDoc) requestBodySchema(t testing.TB, o docOperation, mediaType string) any {
	t.Helper()
	content, _ := d.requestBody(t, o)["content"].(map[string]any)
	media, _ := content[mediaType].(map[string]any)
	return media["schema"]
}

// requestSchema is the JSON schema of an operation's request body, or nil.
func (d *apiDoc) requestSchema(t testing.TB, o docOperation) any {
	t.Helper()
	return d.requestBodySchema(t, o, docJSON)
}

// openAPIPath turns Fiber's "/loans/:id/return" into "/loans/{id}/return".
func openAPIPath(fiberPath string) string {
	parts := strings.Split(fiberPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + strings.TrimSuffix(p[1:], "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}

var docPathParam = regexp.MustCompile(`\{([^}]+)\}`)

// docRoleSentence is how an operation's description must end: who may use it,
// worked out from the route's permission and the policy in accounts.
func docRoleSentence(p accounts.Permission) string {
	switch p {
	case web.Public:
		return "Who may use this: anyone; no token is needed."
	case "":
		return "Who may use this: any signed-in staff member, whatever their role."
	}
	var roles []string
	for _, r := range accounts.Roles {
		if r.Can(p) {
			roles = append(roles, string(r))
		}
	}
	if len(roles) == 0 {
		return "Who may use this: no role at present."
	}
	return "Who may use this: " + strings.Join(roles, ", ") + "."
}

func openAPITestLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newOpenAPITestServer builds a server on a fresh SQLite database, not listening.
func newOpenAPITestServer(t *testing.T) *web.Server {
	t.Helper()
	db := dbtest.Open(t, storage.SQLite)
	return web.New(app.New(db, app.Options{Keys: dbtest.Keys(t, db)}), web.Config{Logger: openAPITestLogger()})
}

func TestOpenAPIDocumentIsOpenAPI31(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	version, _ := doc.root["openapi"].(string)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(version) {
		t.Errorf("openapi = %q, want 3.1.x", version)
	}
	info, _ := doc.root["info"].(map[string]any)
	for _, k := range []string{"title", "version", "description"} {
		if s, _ := info[k].(string); strings.TrimSpace(s) == "" {
			t.Errorf("info.%s is missing or empty", k)
		}
	}
	// encoding/json keeps the last of two equal keys without a word, so a
	// path pasted twice would hide an operation from every other test.
	var dups []string
	dec := json.NewDecoder(bytes.NewReader(doc.raw))
	if err := docDuplicateKeys(dec, "", &dups); err != nil {
		t.Fatal(err)
	}
	for _, k := range dups {
		t.Errorf("key %s appears twice in its object", k)
	}
	if len(doc.operations(t)) == 0 {
		t.Error("the document has no operations")
	}
}

func docDuplicateKeys(dec *json.Decoder, at string, out *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k := kt.(string)
			if seen[k] {
				*out = append(*out, at+"/"+k)
			}
			seen[k] = true
			if err := docDuplicateKeys(dec, at+"/"+k, out); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := docDuplicateKeys(dec, at+"/"+strconv.Itoa(i), out); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	srv := newOpenAPITestServer(t)

	ops := map[string]docOperation{}
	for _, o := range doc.operations(t) {
		ops[o.key()] = o
	}
	routes := map[string]web.Route{}
	for _, r := range srv.Routes() {
		key := r.Method + " " + openAPIPath(r.Path)
		if _, dup := routes[key]; dup {
			t.Errorf("Routes() lists %s twice", key)
		}
		routes[key] = r
		o, ok := ops[key]
		if !ok {
			t.Errorf("route %s (Fiber path %s) is not in %s", key, r.Path, openAPIFile)
			continue
		}
		checkOperation(t, doc, o, r)
	}
	for key, o := range ops {
		if o.path == "/healthz" {
			if o.method != "GET" {
				t.Errorf("%s: /healthz answers GET only", key)
			}
			checkOperation(t, doc, o, web.Route{Method: "GET", Path: "/healthz", Permission: web.Public})
			continue
		}
		if _, ok := routes[key]; !ok {
			t.Errorf("%s documents %s, which is not a route in Server.Routes()", openAPIFile, key)
		}
	}

	ids := map[string]string{}
	for key, o := range ops {
		id, _ := o.op["operationId"].(string)
		if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q is used by both %s and %s", id, prev, key)
		}
		ids[id] = key
	}

	sec, _ := doc.root["security"].([]any)
	if len(sec) != 1 || !docHasKey(sec[0], "bearerAuth") {
		t.Errorf("the document's default security must be [{\"bearerAuth\": []}], got %v", doc.root["security"])
	}
	scheme, _ := doc.lookup("#/components/securitySchemes/bearerAuth")
	if m, _ := scheme.(map[string]any); m["type"] != "http" || m["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth must be an http bearer scheme, got %v", scheme)
	}
}

func docHasKey(v any, k string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[k]
	return ok
}

// checkOperation checks one documented operation against what the server
// does for route.
func checkOperation(t *testing.T, doc *apiDoc, o docOperation, route web.Route) {
	t.Helper()
	perm := route.Permission
	key := o.key()
	for _, k := range []string{"operationId", "summary", "description"} {
		if s, _ := o.op[k].(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s: %s is missing", key, k)
		}
	}
	definedTags := map[string]bool{}
	for _, tv := range doc.root["tags"].([]any) {
		definedTags[tv.(map[string]any)["name"].(string)] = true
	}
	tags, _ := o.op["tags"].([]any)
	if len(tags) == 0 {
		t.Errorf("%s: no tag", key)
	}
	for _, tg := range tags {
		if !definedTags[tg.(string)] {
			t.Errorf("%s: tag %q is not in the document's tags", key, tg)
		}
	}

	// Who may use it.
	desc, _ := o.op["description"].(string)
	want := docRoleSentence(perm)
	if !strings.HasSuffix(strings.TrimSpace(desc), want) {
		t.Errorf("%s: the description must end with %q (from the route's permission %q)", key, want, perm)
	}
	if n := strings.Count(desc, "Who may use this"); n != 1 {
		t.Errorf("%s: the description says who may use it %d times", key, n)
	}
	secv, hasSec := o.op["security"]
	sec, _ := secv.([]any)
	public := perm == web.Public
	switch {
	case public && (!hasSec || len(sec) != 0):
		t.Errorf("%s needs no token, so it must say \"security\": []", key)
	case !public && hasSec && (len(sec) == 0 || !docHasKey(sec[0], "bearerAuth")):
		t.Errorf("%s needs a token, but its security is %v", key, secv)
	}

	responses, _ := o.op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Fatalf("%s: no responses", key)
	}
	need := func(status, why string) {
		t.Helper()
		if _, ok := responses[status]; !ok {
			t.Errorf("%s: response %s is not documented (%s)", key, status, why)
		}
	}
	if !public {
		need("401", "it needs a token")
	}
	if !public && perm != "" {
		need("403", "it needs permission "+string(perm))
	}

	// Path parameters: exactly those in the path, all required.
	params := doc.params(t, o)
	inPath := map[string]bool{}
	for _, m := range docPathParam.FindAllStringSubmatch(o.path, -1) {
		inPath[m[1]] = true
		p, ok := params["path:"+m[1]]
		if !ok {
			t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
			continue
		}
		if p["required"] != true {
			t.Errorf("%s: path parameter {%s} must be required", key, m[1])
		}
	}
	for k := range params {
		if name, ok := strings.CutPrefix(k, "path:"); ok && !inPath[name] {
			t.Errorf("%s declares path parameter %s, which is not in the path", key, name)
		}
	}
	if inPath["id"] {
		need("404", "a record named by id may not exist")
	}

	// Bodies: every POST, PUT and PATCH handler reads one. Each decodes a
	// JSON object, strictly, but the SMS provider's webhook, which reads the
	// form the provider posts.
	takesBody := o.method == "POST" || o.method == "PUT" || o.method == "PATCH"
	rb := doc.requestBody(t, o)
	bodyContent, _ := rb["content"].(map[string]any)
	switch {
	case rb == nil && takesBody:
		t.Errorf("%s: no request body documented", key)
	case rb != nil && !takesBody:
		t.Errorf("%s documents a request body, but the handler reads none", key)
	case rb != nil && (len(bodyContent) != 1 || !docHasKey(bodyContent, docJSON) && !docHasKey(bodyContent, docForm)):
		t.Errorf("%s: the request body must have exactly one media type, %s or %s; it has %v", key, docJSON, docForm, slices.Sorted(maps.Keys(bodyContent)))
	}
	if rb != nil {
		// An empty body is a 400, unless the handler reads it as {}: then
		// the document says so (required false, and what leaving it out
		// does), and the scenario must get a success without a body.
		required, ok := rb["required"].(bool)
		desc, _ := rb["description"].(string)
		switch {
		case !ok:
			t.Errorf("%s: the request body must say whether it is required", key)
		case !required && strings.TrimSpace(desc) == "":
			t.Errorf("%s: an optional request body must say in its description what leaving it out does", key)
		case !required && !docHasKey(bodyContent, docJSON):
			t.Errorf("%s: only a JSON body may be optional", key)
		}
	}
	if schema := doc.requestBodySchema(t, o, docJSON); schema != nil {
		if s := doc.deref(t, schema); s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s: the request body must be an object with additionalProperties false (unknown fields are a 422)", key)
		}
		need("400", "a body that is not a JSON object")
		need("415", "a body sent without Content-Type: application/json")
	}
	if schema := doc.requestBodySchema(t, o, docForm); schema != nil {
		// A form is flat text: each field a string. Whether other fields
		// may come is stated (a provider's webhook gets fields of its own).
		s := doc.deref(t, schema)
		if _, ok := s["additionalProperties"].(bool); s["type"] != "object" || !ok {
			t.Errorf("%s: a form body must be an object that says whether other fields may come (additionalProperties true or false)", key)
		}
		props, _ := s["properties"].(map[string]any)
		for name, ps := range props {
			if types := doc.schemaTypes(t, ps); len(types) != 1 || !types["string"] {
				t.Errorf("%s: form field %s must be a string, not %v", key, name, docKeys(types))
			}
		}
	}
	if takesBody {
		need("413", "a body over the limit")
		need("415", "a compressed body")
		need("422", "invalid fields")
	}

	// Idempotency-Key: the server honours it on POST, PUT and PATCH for a
	// signed-in user (keys belong to the user).
	_, hasKeyParam := params["header:"+idempotency.Header]
	idem := takesBody && !public
	if idem != hasKeyParam {
		t.Errorf("%s: Idempotency-Key header documented = %v, want %v", key, hasKeyParam, idem)
	}
	if idem {
		need("409", "the same Idempotency-Key still being processed")
		need("422", "an Idempotency-Key reused with another request")
	}

	for status, rv := range responses {
		if status != "default" && !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(status) {
			t.Errorf("%s: response key %q is not an HTTP status", key, status)
			continue
		}
		r := doc.deref(t, rv)
		if s, _ := r["description"].(string); s == "" {
			t.Errorf("%s %s: response has no description", key, status)
		}
		content, hasContent := r["content"].(map[string]any)
		switch {
		case status == "204" && hasContent:
			t.Errorf("%s 204: a 204 answer has no body", key)
		case status == "204":
		case strings.HasPrefix(status, "2") && !docHasKey(content, "application/json"):
			// A success may be a file rather than JSON (a PDF certificate),
			// or a text document for a machine (TwiML for the SMS provider).
			if len(content) == 0 {
				t.Errorf("%s %s: no content is documented", key, status)
			}
			for mt, mv := range content {
				s := doc.deref(t, mv.(map[string]any)["schema"])
				switch {
				case docMagic[mt] != "":
					if s["type"] != "string" || s["format"] != "binary" {
						t.Errorf("%s %s: the %s body must have the schema {type: string, format: binary}, got %v", key, status, mt, s)
					}
					h, _ := r["headers"].(map[string]any)
					if !docHasKey(h, "Content-Disposition") {
						t.Errorf("%s %s: a file answer carries Content-Disposition, which is not documented", key, status)
					}
				case docTextTypes[mt] != nil:
					// The scenario checks an answer against the examples.
					examples := docList(s["examples"])
					if s["type"] != "string" || s["format"] != nil || len(examples) == 0 {
						t.Errorf("%s %s: the %s body must have a schema {type: string} with examples, got %v", key, status, mt, s)
					}
					for i, ex := range examples {
						str, _ := ex.(string)
						if _, err := docTextTypes[mt]([]byte(str)); err != nil {
							t.Errorf("%s %s: example %d is not a %s document: %v", key, status, i, mt, err)
						}
					}
				default:
					t.Errorf("%s %s: content type %s is neither JSON nor a type the scenario can check", key, status, mt)
				}
			}
		case !docHasKey(content, "application/json"):
			t.Errorf("%s %s: the answer is JSON, but no application/json content is documented", key, status)
		}
		if h, _ := r["headers"].(map[string]any); strings.HasPrefix(status, "2") && docHasKey(h, "Idempotent-Replayed") != route.Replays() {
			if route.Replays() {
				t.Errorf("%s %s: a replayed answer carries Idempotent-Replayed, which is not documented", key, status)
			} else {
				t.Errorf("%s %s: documents Idempotent-Replayed, but a resend is never answered with a replay", key, status)
			}
		}
		if media, ok := content["application/json"].(map[string]any); strings.HasPrefix(status, "2") && ok {
			if s := doc.deref(t, media["schema"]); docIsPage(s) {
				need("422", "a bad limit or offset")
				for _, q := range []string{"query:limit", "query:offset"} {
					if _, ok := params[q]; !ok {
						t.Errorf("%s answers a page, so it must take %s", key, q)
					}
				}
			}
		}
	}
}

// docMagic is how a body of each file type a successful answer may have
// begins; the scenario checks answers by it.
var docMagic = map[string]string{"application/pdf": "%PDF-"}

// docTextTypes are the text documents a successful answer may be, each
// with a check that a body is one, which gives its kind (an XML
// document's root element); the scenario checks that an answer is of the
// kind of the documented examples.
var docTextTypes = map[string]func([]byte) (string, error){"text/xml": docXMLRoot, "text/csv": docCSVHeader}

// docCSVHeader checks that b is a CSV document with a header row and rows
// of its width, and returns the header.
func docCSVHeader(b []byte) (string, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return "", err
	}
	if len(rows) < 2 {
		return "", fmt.Errorf("a header and no rows")
	}
	return strings.Join(rows[0], ","), nil
}

// docXMLRoot checks that b is one well-formed XML document and returns the
// name of its root element.
func docXMLRoot(b []byte) (string, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	root, depth := "", 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root != "" {
					return "", fmt.Errorf("a second root element <%s>", el.Name.Local)
				}
				root = el.Name.Local
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(el)) > 0 {
				return "", errors.New("text outside the root element")
			}
		}
	}
	if root == "" {
		return "", errors.New("no root element")
	}
	return root, nil
}

// docIsPage reports whether a schema is a list wrapper with items and paging.
func docIsPage(s map[string]any) bool {
	props, _ := s["properties"].(map[string]any)
	for _, k := range []string{"items", "total", "limit", "offset"} {
		if _, ok := props[k]; !ok {
			return false
		}
	}
	return true
}

func TestOpenAPIRoutesAreTheRegisteredRoutes(t *testing.T) {
	srv := newOpenAPITestServer(t)
	doc := loadOpenAPIDoc(t)
	const api = "/api/v1"
	inAPI := func(p string) bool { return p == api || strings.HasPrefix(p, api+"/") }

	want := map[string]int{}
	for _, r := range srv.Routes() {
		if !inAPI(r.Path) {
			t.Errorf("route %s %s in Routes() is not under %s", r.Method, r.Path, api)
		}
		want[r.Method+" "+r.Path]++
	}
	got := map[string]int{}
	other := map[string]bool{}
	for _, r := range srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		key := r.Method + " " + r.Path
		if inAPI(r.Path) {
			got[key]++
		} else {
			other[key] = true
		}
	}
	for key, n := range got {
		if want[key] != n {
			t.Errorf("Fiber has %s registered %d times, Routes() lists it %d times", key, n, want[key])
		}
	}
	for key := range want {
		if got[key] == 0 {
			t.Errorf("Routes() lists %s, but Fiber has no such route", key)
		}
	}

	// Outside the API there are the staff's web pages and their assets,
	// which are not API routes and are left out by the pages' own list
	// (Pages.IsPage: each page's method and path, nothing under /api), and
	// what the document describes (the health check). Anything else must
	// be documented.
	documented := map[string]bool{}
	for _, o := range doc.operations(t) {
		if !inAPI(o.path) {
			documented[o.key()] = true
		}
	}
	for key := range other {
		method, routePath, _ := strings.Cut(key, " ")
		if srv.Pages().IsPage(method, routePath) {
			if documented[key] {
				t.Errorf("%s describes %s, which is a web page, not an API route", openAPIFile, key)
			}
			continue
		}
		if !documented[key] {
			t.Errorf("Fiber serves %s, which %s does not describe", key, openAPIFile)
		}
	}
	for _, r := range srv.Pages().Routes() {
		if inAPI(r.Path) {
			t.Errorf("page %s %s is under %s, where only API routes belong", r.Method, r.Path, api)
		}
	}
	for key := range documented {
		if !other[key] {
			t.Errorf("%s describes %s, which the server does not serve", openAPIFile, key)
		}
	}
}

func TestOpenAPIServedDocument(t *testing.T) {
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dbtest.Open(t, storage.SQLite))
	r := e.do("", "GET", "/api/v1/openapi.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json without a token: status %d, want 200\n%s", r.Status, r.Body)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.Body, want) {
		t.Errorf("the served document (%d bytes) differs from %s (%d bytes)", len(r.Body), openAPIFile, len(want))
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	used := map[string]bool{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"]; ok {
				s, _ := ref.(string)
				if !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %v does not point into #/components", at, ref)
				} else if _, ok := doc.lookup(s); !ok {
					t.Errorf("%s: $ref %s does not resolve", at, s)
				}
				used[s] = true
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc.root, "#")

	// A component that nothing uses is usually left over from a change.
	components, _ := doc.root["components"].(map[string]any)
	for _, kind := range []string{"schemas", "parameters", "headers", "responses"} {
		m, _ := components[kind].(map[string]any)
		for name := range m {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never used", ref)
			}
		}
	}
}

// TestOpenAPISchemasMatchGoTypes compares each schema's fields with the
// JSON fields of the Go type it describes.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	cases := []struct {
		schema string
		value  any
		// output types are what the server sends: every field not marked
		// omitempty is always there, and a pointer may be null.
		output bool
	}{
		{"Device", inventory.Device{}, true},
		{"DeviceInput", inventory.DeviceInput{}, false},
		{"Accessory", inventory.Accessory{}, false},
		{"Inspection", inventory.InspectionInput{}, false},
		{"DataPlan", inventory.DataPlan{}, true},
		{"DataPlanInput", inventory.DataPlanInput{}, false},
		{"Loan", inventory.Loan{}, true},
		{"IssueLoan", inventory.IssueInput{}, false},
		{"ReturnLoan", inventory.ReturnInput{}, false},
		{"RenewLoan", inventory.RenewInput{}, false},
		{"LostLoan", inventory.LostInput{}, false},
		{"RecoveredLoan", inventory.RecoveredInput{}, false},
		{"Client", clients.Client{}, true},
		{"ClientExport", app.ClientExport{}, true},
		{"ClientSummary", clients.Summary{}, true},
		{"ClientInput", clients.Input{}, false},
		{"User", accounts.User{}, true},
		{"NewUser", accounts.NewUser{}, false},
		{"UserPatch", accounts.UserPatch{}, false},
		{"Token", accounts.Token{}, true},
		{"SignIn", accounts.SignIn{}, false},
		{"PasswordChange", accounts.PasswordChange{}, false},
		{"AuditEvent", audit.Event{}, true},
		{"EligibilityDecision", eligibility.Decision{}, true},
		{"EligibilityRuleResult", eligibility.RuleResult{}, true},
		// RuleSet and EligibilityRule are sent (in RuleSetVersion) and
		// received (PUT /eligibility/rules) alike.
		{"RuleSet", eligibility.RuleSet{}, true},
		{"EligibilityRule", eligibility.Rule{}, true},
		{"RuleSetVersion", eligibility.StoredRuleSet{}, true},
		{"Guideline", eligibility.Guideline{}, true},
		{"GuidelineInput", eligibility.Guideline{}, false},
		{"DeviceRequest", eligibility.DeviceRequest{}, true},
		{"DeviceRequestInput", eligibility.RequestInput{}, false},
		{"WaitlistEntry", eligibility.WaitlistEntry{}, true},
		{"TrainingSession", training.Session{}, true},
		{"TrainingSessionInput", training.SessionInput{}, false},
		{"TrainingEnrollment", training.Enrollment{}, true},
		{"AttendanceInput", training.AttendanceInput{}, false},
		{"TrainingRecord", training.Record{}, true},
		{"TrainingRecordEntry", training.RecordEntry{}, true},
		{"Notification", notifications.Notification{}, true},
		// The policy is sent (GET, and the answer to PUT) and received
		// (PUT) alike.
		{"ReminderPolicy", notifications.Policy{}, true},
		{"OverdueStep", notifications.OverdueStep{}, true},
		{"QuietHours", notifications.QuietHours{}, true},
		{"RemindInput", notifications.RemindInput{}, false},
		{"AgreementTerms", agreements.Terms{}, true},
		{"AgreementTermsInput", agreements.TermsInput{}, false},
		{"LoanAgreement", agreements.Acceptance{}, true},
		{"AgreementAcceptanceInput", agreements.AcceptanceInput{}, false},
		{"UtilizationReport", reports.Report{}, true},
		{"RetentionPolicy", retention.Settings{}, true},
	}
	// Output pointers the code never leaves nil, by schema, so the schema
	// need not allow null for them; the answers checked in
	// TestOpenAPIResponsesMatchDocument show it.
	alwaysSet := map[string][]string{
		"RuleSetVersion": {"rule_set"}, // parsed from the stored body before any answer
	}
	for _, c := range cases {
		t.Run(c.schema, func(t *testing.T) {
			props, required := doc.objectShape(t, doc.schema(t, c.schema))
			fields := goJSONFields(reflect.TypeOf(c.value))
			seen := map[string]bool{}
			for _, f := range fields {
				seen[f.name] = true
				variants, ok := props[f.name]
				if !ok {
					t.Errorf("field %q of %T is not in the schema", f.name, c.value)
					continue
				}
				goType, nullable := goJSONType(f.typ)
				for _, ps := range variants {
					types := doc.schemaTypes(t, ps)
					if goType != "" && !types[goType] {
						t.Errorf("%s: the Go field is a JSON %s, the schema says %v", f.name, goType, docKeys(types))
					}
					if types["null"] && !nullable {
						t.Errorf("%s: the schema allows null, but the Go field can never be null", f.name)
					}
					// A pointer is null whenever it is nil; whether a slice or a
					// date can be null depends on the code, which the answers
					// checked in TestOpenAPIResponsesMatchDocument show.
					if c.output && f.typ.Kind() == reflect.Pointer && !f.omitempty && !types["null"] &&
						!slices.Contains(alwaysSet[c.schema], f.name) {
						t.Errorf("%s: the field can be null (a %s), but the schema does not allow null", f.name, f.typ)
					}
				}
				if c.output && required[f.name] == f.omitempty {
					t.Errorf("%s: required = %v, but the field is always sent = %v", f.name, required[f.name], !f.omitempty)
				}
			}
			for name := range props {
				if !seen[name] {
					t.Errorf("the schema has %q, which %T does not have", name, c.value)
				}
			}
			for name := range required {
				if _, ok := props[name]; !ok {
					t.Errorf("%q is required but not a property", name)
				}
			}
			for _, name := range alwaysSet[c.schema] {
				if !seen[name] {
					t.Errorf("alwaysSet names %q, which %T does not have", name, c.value)
				}
			}
		})
	}
}

// objectShape is the properties of an object schema, each with the schemas
// given for it, and its required fields. For a schema that is an anyOf of
// object schemas (such as a rule of the rule tree, one shape per kind), it
// is every property of every alternative, and the fields that all of them
// require.
func (d *apiDoc) objectShape(t testing.TB, s map[string]any) (map[string][]any, map[string]bool) {
	t.Helper()
	props := map[string][]any{}
	required := map[string]bool{}
	if p, ok := s["properties"].(map[string]any); ok {
		for name, ps := range p {
			props[name] = append(props[name], ps)
		}
		for _, r := range docList(s["required"]) {
			required[r.(string)] = true
		}
		return props, required
	}
	alts := docList(s["anyOf"])
	if len(alts) == 0 {
		t.Fatalf("the schema has neither properties nor anyOf")
	}
	count := map[string]int{}
	for _, alt := range alts {
		p, r := d.objectShape(t, d.deref(t, alt))
		for name, variants := range p {
			props[name] = append(props[name], variants...)
		}
		for name := range r {
			count[name]++
		}
	}
	for name, n := range count {
		if n == len(alts) {
			required[name] = true
		}
	}
	return props, required
}

type goJSONField struct {
	name      string
	typ       reflect.Type
	omitempty bool
}

// goJSONFields lists the fields encoding/json reads and writes for struct t.
func goJSONFields(t reflect.Type) []goJSONField {
	var out []goJSONField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, goJSONFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, goJSONField{name: name, typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")})
	}
	return out
}

// goJSONType is the JSON type a Go type is written as ("" for any), and
// whether it can be written as null.
func goJSONType(t reflect.Type) (string, bool) {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	// optional.Field[T] is written as T, or null.
	if t.PkgPath() == reflect.TypeOf(optional.Field[int]{}).PkgPath() && strings.HasPrefix(t.Name(), "Field[") {
		inner, _ := goJSONType(t.Field(2).Type)
		return inner, true
	}
	switch t {
	case reflect.TypeOf(time.Time{}):
		return "string", nullable
	case reflect.TypeOf(calendar.Time{}):
		return "string", nullable
	case reflect.TypeOf(calendar.Date{}):
		return "string", true // the zero date is written as null
	case reflect.TypeOf(json.RawMessage{}):
		return "", nullable
	}
	switch t.Kind() {
	case reflect.String:
		return "string", nullable
	case reflect.Bool:
		return "boolean", nullable
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer", nullable
	case reflect.Float32, reflect.Float64:
		return "number", nullable
	case reflect.Slice:
		return "array", true // a nil slice is written as null
	case reflect.Array:
		return "array", nullable
	case reflect.Map:
		return "object", true
	case reflect.Struct:
		return "object", nullable
	}
	return "", nullable
}

// schemaTypes is the set of JSON types a schema allows, through $ref and anyOf.
func (d *apiDoc) schemaTypes(t testing.TB, schema any) map[string]bool {
	t.Helper()
	s := d.deref(t, schema)
	out := map[string]bool{}
	switch ty := s["type"].(type) {
	case string:
		out[ty] = true
	case []any:
		for _, x := range ty {
			out[x.(string)] = true
		}
	}
	if c, ok := s["const"]; ok {
		out[docJSONKind(c)] = true
	}
	for _, alt := range docList(s["anyOf"]) {
		for k := range d.schemaTypes(t, alt) {
			out[k] = true
		}
	}
	if out["integer"] {
		out["number"] = true
	}
	return out
}

func docList(v any) []any { s, _ := v.([]any); return s }

func docKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIEnumsAndLimitsMatchCode(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	strs := func(vs ...any) []string {
		var out []string
		for _, v := range vs {
			out = append(out, reflect.ValueOf(v).String())
		}
		return out
	}
	each := func(slice any) []string {
		v := reflect.ValueOf(slice)
		var out []string
		for i := 0; i < v.Len(); i++ {
			out = append(out, v.Index(i).String())
		}
		return out
	}
	enums := map[string][]string{
		"DeviceKind":         each(inventory.Kinds),
		"DeviceStatus":       each(inventory.Statuses),
		"Condition":          each(inventory.Conditions),
		"InspectionOutcome":  strs(inventory.Ready, inventory.NeedsRepair, inventory.Retire),
		"LoanStatus":         strs(inventory.LoanOpen, inventory.LoanReturned, inventory.LoanLost),
		"LoanStatusFilter":   each(inventory.LoanStatuses),
		"PreferredChannel":   strs(clients.SMS, clients.Email, clients.None),
		"EligibilityOutcome": strs(eligibility.Eligible, eligibility.Ineligible, eligibility.NeedsReview),
		"RequestStatus":      each(eligibility.RequestStatuses),
		"Urgency":            each(eligibility.Urgencies),
		"Role":               each(accounts.Roles),
		"NotificationKind":   each(notifications.Kinds),
		"NotificationStatus": each(notifications.Statuses),
		"NotificationRecipient": strs(notifications.ClientRecipient, notifications.SocialWorkerRecipient,
			notifications.CoordinatorRecipient, notifications.FunderRecipient),
		"NotificationLanguage": each(notifications.Languages),
		"ReminderAudience":     strs(notifications.ToClient, notifications.ToSocialWorker, notifications.ToCoordinators),
		// Every apperr code, and the one the server makes of Fiber's 405.
		"ErrorCode": strs(apperr.Invalid, apperr.Malformed, apperr.NotFound, apperr.Conflict, apperr.Forbidden,
			apperr.Unauthorized, apperr.TooLarge, apperr.UnsupportedMediaType, apperr.RateLimited, apperr.Internal, apperr.Unavailable, "method_not_allowed"),
	}
	for name, want := range enums {
		var got []string
		for _, v := range docList(doc.schema(t, name)["enum"]) {
			got = append(got, v.(string))
		}
		sort.Strings(got)
		want = slices.Clone(want)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s: enum %v, the code has %v", name, got, want)
		}
	}
	// A check names a device kind as the inventory does.
	if !slices.Equal(each(eligibility.DeviceKinds), each(inventory.Kinds)) {
		t.Errorf("eligibility.DeviceKinds %v differ from inventory.Kinds %v, which the schema DeviceKind lists", eligibility.DeviceKinds, inventory.Kinds)
	}
	// Each kind of rule has its own shape in EligibilityRule, named by a
	// const kind; with the two groups, that is every shape.
	var kinds []string
	alts := docList(doc.schema(t, "EligibilityRule")["anyOf"])
	for _, alt := range alts {
		props, _ := doc.deref(t, alt)["properties"].(map[string]any)
		if k, ok := props["kind"].(map[string]any); ok {
			kinds = append(kinds, fmt.Sprint(k["const"]))
		}
	}
	sort.Strings(kinds)
	wantKinds := each(eligibility.Kinds)
	sort.Strings(wantKinds)
	if !slices.Equal(kinds, wantKinds) || len(alts) != len(wantKinds)+2 {
		t.Errorf("EligibilityRule has %d shapes with the kinds %v; the code has an all_of group, an any_of group and the kinds %v", len(alts), kinds, wantKinds)
	}
	// The codes DeviceBank knows are named where the codes are described,
	// and the pattern and length accept what the code accepts.
	for name, known := range map[string][]string{"ProgramCode": clients.Programs, "NeedCode": clients.Needs} {
		s := doc.schema(t, name)
		desc, _ := s["description"].(string)
		for _, code := range known {
			if !strings.Contains(desc, code) {
				t.Errorf("schema %s: the description does not name the code %s", name, code)
			}
		}
		for _, code := range append(slices.Clone(known), "a", "city_rent_relief2", strings.Repeat("a", 40), strings.Repeat("a", 41),
			"", "SNAP", "2snap", "_snap", "snap-plus", "snap plus", "snäp") {
			errs := doc.validate(s, code, name)
			if ok := len(errs) == 0; ok != eligibility.ValidCode(code) {
				t.Errorf("schema %s accepts %q = %v, the code says %v %v", name, code, ok, eligibility.ValidCode(code), errs)
			}
		}
	}
	db, _ := doc.lookup("#/components/schemas/Health/properties/database/enum")
	if got := fmt.Sprint(db); got != fmt.Sprint([]any{string(storage.SQLite), string(storage.Postgres)}) {
		t.Errorf("Health.database enum %v, want sqlite and postgres", got)
	}

	number := func(ref string) int64 {
		t.Helper()
		v, ok := doc.lookup(ref)
		n, isNum := v.(json.Number)
		i, err := n.Int64()
		if !ok || !isNum || err != nil {
			t.Fatalf("%s is not a whole number: %v", ref, v)
		}
		return i
	}
	checks := []struct {
		ref  string
		want int64
	}{
		{"#/components/parameters/Limit/schema/minimum", 1},
		{"#/components/parameters/Limit/schema/maximum", storage.MaxPageLimit},
		{"#/components/parameters/Limit/schema/default", storage.DefaultPageLimit},
		{"#/components/parameters/Offset/schema/minimum", 0},
		{"#/components/parameters/IdempotencyKey/schema/maxLength", idempotency.MaxKeyLength},
		{"#/components/schemas/NewUser/properties/password/minLength", accounts.MinPasswordLength},
		{"#/components/schemas/NewUser/properties/password/maxLength", accounts.MaxPasswordLength},
		{"#/components/schemas/SignIn/properties/new_password/minLength", accounts.MinPasswordLength},
		{"#/components/schemas/SignIn/properties/new_password/maxLength", accounts.MaxPasswordLength},
		{"#/components/schemas/PasswordChange/properties/new_password/minLength", accounts.MinPasswordLength},
		{"#/components/schemas/PasswordChange/properties/new_password/maxLength", accounts.MaxPasswordLength},
		{"#/components/schemas/ClientInput/properties/annual_income_cents/maximum", clients.MaxIncomeCents},
		{"#/components/schemas/Client/properties/annual_income_cents/maximum", clients.MaxIncomeCents},
		{"#/components/schemas/TrainingSessionInput/properties/capacity/maximum", training.MaxCapacity},
		{"#/components/schemas/TrainingSession/properties/capacity/maximum", training.MaxCapacity},
		{"#/components/schemas/RemindInput/properties/note/maxLength", notifications.MaxNoteLength},
		{"#/components/schemas/NewUser/properties/name/maxLength", accounts.MaxNameLength},
		{"#/components/schemas/UserPatch/properties/name/maxLength", accounts.MaxNameLength},
		{"#/components/schemas/NewUser/properties/email/maxLength", accounts.MaxEmailLength},
		{"#/components/schemas/DeviceInput/properties/notes/maxLength", inventory.MaxNotesLength},
		{"#/components/schemas/DataPlanInput/properties/notes/maxLength", inventory.MaxNotesLength},
		{"#/components/schemas/IssueLoan/properties/notes/maxLength", inventory.MaxNotesLength},
	}
	for _, c := range checks {
		if got := number(c.ref); got != c.want {
			t.Errorf("%s = %d, the code has %d", c.ref, got, c.want)
		}
	}
	if name, _ := doc.lookup("#/components/parameters/IdempotencyKey/name"); name != idempotency.Header {
		t.Errorf("the Idempotency-Key parameter is named %v, the server reads %q", name, idempotency.Header)
	}
}

func TestOpenAPIExamplesMatchSchemas(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	n := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for i, ex := range docList(m["examples"]) {
			n++
			for _, e := range doc.validate(m, ex, fmt.Sprintf("%s/examples/%d", at, i)) {
				t.Error(e)
			}
		}
		for k, c := range m {
			if k == "examples" {
				continue
			}
			if list, ok := c.([]any); ok {
				for i, x := range list {
					walk(x, fmt.Sprintf("%s/%s/%d", at, k, i))
				}
				continue
			}
			walk(c, at+"/"+k)
		}
	}
	walk(doc.root["components"].(map[string]any)["schemas"], "#/components/schemas")
	params := doc.root["components"].(map[string]any)["parameters"].(map[string]any)
	for name, pv := range params {
		p := pv.(map[string]any)
		if ex, ok := p["example"]; ok {
			n++
			for _, e := range doc.validate(p["schema"], ex, "#/components/parameters/"+name+"/example") {
				t.Error(e)
			}
		}
		if def, ok := p["schema"].(map[string]any)["default"]; ok {
			for _, e := range doc.validate(p["schema"], def, "#/components/parameters/"+name+"/schema/default") {
				t.Error(e)
			}
		}
	}
	if n == 0 {
		t.Error("no examples found to check")
	}
}

// The validator: enough of JSON Schema for this document. A keyword it does
// not know is reported, so the document cannot use a rule no test checks.
// An object schema that lists properties is taken as closed: the document
// is meant to name every field the server sends.
var docSchemaKeywords = map[string]bool{
	"$ref": true, "type": true, "enum": true, "const": true, "anyOf": true, "properties": true,
	"required": true, "additionalProperties": true, "items": true, "minItems": true, "maxItems": true, "minLength": true,
	"maxLength": true, "pattern": true, "format": true, "minimum": true, "maximum": true,
	"description": true, "examples": true, "default": true,
}

func (d *apiDoc) validate(schema, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{at + ": the schema is not an object"}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !docSchemaKeywords[k] {
			fail("the test's validator does not know the schema keyword %q", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, ok := d.lookup(ref)
		if !ok {
			fail("$ref %s does not resolve", ref)
			return errs
		}
		errs = append(errs, d.validate(target, v, at)...)
	}
	if ty, ok := s["type"]; ok {
		var allowed []string
		switch x := ty.(type) {
		case string:
			allowed = []string{x}
		case []any:
			for _, a := range x {
				allowed = append(allowed, a.(string))
			}
		}
		kind := docJSONKind(v)
		if !slices.Contains(allowed, kind) && !(kind == "integer" && slices.Contains(allowed, "number")) {
			fail("%s is a JSON %s, want %v", docShow(v), kind, allowed)
			return errs
		}
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return reflect.DeepEqual(x, v) }) {
		fail("%s is not one of %v", docShow(v), e)
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("%s is not %s", docShow(v), docShow(c))
	}
	if alts, ok := s["anyOf"].([]any); ok {
		match := false
		var why []string
		for _, alt := range alts {
			e := d.validate(alt, v, at)
			if len(e) == 0 {
				match = true
				break
			}
			why = append(why, e...)
		}
		if !match {
			fail("%s matches none of anyOf: %s", docShow(v), strings.Join(why, "; "))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, hasProps := s["properties"].(map[string]any)
		for _, r := range docList(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				fail("required field %q is missing", r)
			}
		}
		for k, val := range x {
			if ps, ok := props[k]; ok {
				errs = append(errs, d.validate(ps, val, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("field %q is not in the schema", k)
				}
			case map[string]any:
				errs = append(errs, d.validate(ap, val, at+"."+k)...)
			default:
				if hasProps {
					fail("field %q is not in the schema", k)
				}
			}
		}
	case []any:
		if min, ok := docIntOf(s["minItems"]); ok && int64(len(x)) < min {
			fail("%d items, at least %d needed", len(x), min)
		}
		if max, ok := docIntOf(s["maxItems"]); ok && int64(len(x)) > max {
			fail("%d items, at most %d allowed", len(x), max)
		}
		if items, ok := s["items"]; ok {
			for i, item := range x {
				errs = append(errs, d.validate(items, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		n := int64(utf8.RuneCountInString(x))
		if min, ok := docIntOf(s["minLength"]); ok && n < min {
			fail("%q is shorter than %d", x, min)
		}
		if max, ok := docIntOf(s["maxLength"]); ok && n > max {
			fail("%q is longer than %d", x, max)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			fail("%q does not match %s", x, p)
		}
		switch s["format"] {
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil {
				fail("%q is not a YYYY-MM-DD date", x)
			}
		case "date-time":
			if tm, err := time.Parse(time.RFC3339Nano, x); err != nil || !strings.HasSuffix(x, "Z") || tm.Location() != time.UTC {
				fail("%q is not an RFC 3339 time in UTC", x)
			}
		case "email":
			if !strings.Contains(x, "@") {
				fail("%q is not an email address", x)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if min, ok := docIntOf(s["minimum"]); ok && f < float64(min) {
			fail("%s is less than %d", x, min)
		}
		if max, ok := docIntOf(s["maximum"]); ok && f > float64(max) {
			fail("%s is more than %d", x, max)
		}
		if s["format"] == "int64" {
			if _, err := x.Int64(); err != nil {
				fail("%s is not a 64-bit whole number", x)
			}
		}
	}
	return errs
}

func docJSONKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func docIntOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func docShow(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// docChecker sends requests to a running server and checks each answer
// against the document: its status is listed for the operation, its body
// matches the schema given for that status, and the headers that matter
// are documented. It also checks what the test sends against the document,
// and records what was covered.
type docChecker struct {
	t        *testing.T
	e        *env
	doc      *apiDoc
	ops      []docOperation
	ok       map[string]bool            // operations that answered 2xx
	params   map[string]map[string]bool // query parameters used, by operation, on a 2xx
	statuses map[int]bool
	noBody   map[string]bool         // operations that answered 2xx to a request without a body
	answered map[string]map[int]bool // statuses seen, by operation
}

func newDocChecker(t *testing.T, e *env, doc *apiDoc) *docChecker {
	return &docChecker{t: t, e: e, doc: doc, ops: doc.operations(t), ok: map[string]bool{},
		params: map[string]map[string]bool{}, statuses: map[int]bool{}, noBody: map[string]bool{},
		answered: map[string]map[int]bool{}}
}

// on is a checker that sends to another server (one set up otherwise) and
// adds what it covers to c's.
func (c *docChecker) on(e *env) *docChecker {
	other := *c
	other.e = e
	return &other
}

// find is the documented operation that serves method and path.
func (c *docChecker) find(method, path string) (docOperation, bool) {
	segs := strings.Split(path, "/")
	best, bestLiterals := docOperation{}, -1
	for _, o := range c.ops {
		tmpl := strings.Split(o.path, "/")
		if o.method != method || len(tmpl) != len(segs) {
			continue
		}
		literals, match := 0, true
		for i, p := range tmpl {
			switch {
			case strings.HasPrefix(p, "{") && segs[i] != "":
			case p == segs[i]:
				literals++
			default:
				match = false
			}
		}
		if match && literals > bestLiterals {
			best, bestLiterals = o, literals
		}
	}
	return best, bestLiterals >= 0
}

// call sends a request that keeps to the document and expects status want.
func (c *docChecker) call(want int, token, method, target string, body any, headers ...string) map[string]any {
	c.t.Helper()
	return c.send(true, want, token, method, target, body, headers...).object()
}

// bad sends a request that breaks the document's rules on purpose, to see
// the error; what it sends is not checked, what comes back is.
func (c *docChecker) bad(want int, token, method, target string, body any, headers ...string) map[string]any {
	c.t.Helper()
	return c.send(false, want, token, method, target, body, headers...).object()
}

type docAnswer struct {
	*response
	value any
}

func (r docAnswer) object() map[string]any {
	m, _ := r.value.(map[string]any)
	return m
}

func (c *docChecker) send(conform bool, want int, token, method, target string, body any, headers ...string) docAnswer {
	t := c.t
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := c.find(method, u.Path)
	if !ok {
		t.Fatalf("%s %s matches no operation in %s", method, u.Path, openAPIFile)
	}
	key := o.key()
	params := c.doc.params(t, o)
	for name, vals := range u.Query() {
		p, ok := params["query:"+name]
		if !ok {
			t.Errorf("%s: query parameter %q is not documented", key, name)
			continue
		}
		if conform {
			for _, v := range vals {
				for _, e := range c.doc.validate(p["schema"], c.fromText(p["schema"], v), key+" ?"+name) {
					t.Error(e)
				}
			}
		}
	}
	// Content-Type says what the body is (JSON unless the test says
	// otherwise); OpenAPI describes it with the body, not as a parameter.
	mediaType, sent := docJSON, map[string]bool{}
	for i := 0; i+1 < len(headers); i += 2 {
		if http.CanonicalHeaderKey(headers[i]) == "Content-Type" {
			mediaType, _, _ = mime.ParseMediaType(headers[i+1])
			continue
		}
		if http.CanonicalHeaderKey(headers[i]) == "Content-Encoding" {
			continue // refused on every route, as the document says once
		}
		sent[headers[i]] = true
		if _, ok := params["header:"+headers[i]]; !ok {
			t.Errorf("%s: request header %s is not documented", key, headers[i])
		}
	}
	for k, p := range params {
		if name, ok := strings.CutPrefix(k, "header:"); ok && conform && p["required"] == true && !sent[name] {
			t.Errorf("%s: the request lacks the required header %s (use bad() if that is meant)", key, name)
		}
	}
	if body != nil && conform {
		schema := c.doc.requestBodySchema(t, o, mediaType)
		if schema == nil {
			t.Fatalf("%s: the test sends a %s body, but the document has no such request body", key, mediaType)
		}
		var b []byte
		if s, ok := body.(string); ok {
			b = []byte(s)
		} else if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		var v any
		switch mediaType {
		case docJSON:
			if v, err = decodeDocJSON(b); err != nil {
				t.Fatalf("%s: the test's body is not JSON: %v", key, err)
			}
		case docForm:
			if v, err = docFormValue(b); err != nil {
				t.Fatalf("%s: the test's body is not a form: %v", key, err)
			}
		default:
			t.Fatalf("%s: the scenario cannot check a %s request body", key, mediaType)
		}
		for _, e := range c.doc.validate(schema, v, key+" request") {
			t.Errorf("the request breaks the document (use bad() if that is meant): %s", e)
		}
	}

	r := c.e.do(token, method, target, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, target, r.Status, want, r.Body)
	}
	c.statuses[r.Status] = true
	if c.answered[key] == nil {
		c.answered[key] = map[int]bool{}
	}
	c.answered[key][r.Status] = true
	if r.Status/100 == 2 {
		c.ok[key] = true
		if c.params[key] == nil {
			c.params[key] = map[string]bool{}
		}
		for name := range u.Query() {
			c.params[key][name] = true
		}
		if body == nil && o.op["requestBody"] != nil {
			c.noBody[key] = true
		}
	}

	responses, _ := o.op["responses"].(map[string]any)
	rv, ok := responses[strconv.Itoa(r.Status)]
	if !ok {
		t.Errorf("%s answered %d, which the document does not list for it", key, r.Status)
		return docAnswer{response: r}
	}
	resp := c.doc.deref(t, rv)
	documented, _ := resp["headers"].(map[string]any)
	for h, hv := range documented {
		if c.doc.deref(t, hv)["required"] == true && r.Header.Get(h) == "" {
			t.Errorf("%s %d: the document says the answer always has a %s header, but it has none", key, r.Status, h)
		}
	}
	for _, h := range []string{"Location", "Idempotent-Replayed", "WWW-Authenticate", "Retry-After", "Content-Disposition", "Cache-Control"} {
		val := r.Header.Get(h)
		if val == "" {
			continue
		}
		hd, ok := documented[h]
		if !ok && h == "Cache-Control" && val == "no-store" {
			// Said once for every answer, in the document's description
			// (TestSecurityHeaders checks that it is).
			continue
		}
		if !ok {
			t.Errorf("%s %d: the answer has a %s header, which the document does not list", key, r.Status, h)
			continue
		}
		schema := c.doc.deref(t, hd)["schema"]
		for _, e := range c.doc.validate(schema, c.fromText(schema, val), fmt.Sprintf("%s %d header %s", key, r.Status, h)) {
			t.Error(e)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if len(r.Body) != 0 {
			t.Errorf("%s %d: the document gives no body, but the answer has one: %s", key, r.Status, r.Body)
		}
		return docAnswer{response: r}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Errorf("%s %d: content type %q is not documented", key, r.Status, r.Header.Get("Content-Type"))
		return docAnswer{response: r}
	}
	if mt != "application/json" {
		// A file or a text document: check what it is, not a JSON schema.
		magic, isFile := docMagic[mt]
		kind, isText := docTextTypes[mt]
		switch {
		case isFile && !bytes.HasPrefix(r.Body, []byte(magic)):
			t.Errorf("%s %d: the %s body does not begin with %q: %.40q", key, r.Status, mt, magic, r.Body)
		case isText:
			got, err := kind(r.Body)
			if err != nil {
				t.Errorf("%s %d: the body is not a %s document: %v\n%s", key, r.Status, mt, err, r.Body)
				break
			}
			// The answer is of the kind the examples show.
			for _, ex := range docList(c.doc.deref(t, media["schema"])["examples"]) {
				str, _ := ex.(string)
				if want, _ := kind([]byte(str)); got != want {
					t.Errorf("%s %d: the %s body is a <%s> document, the document's example a <%s> one\n%s", key, r.Status, mt, got, want, r.Body)
				}
			}
		case !isFile:
			t.Errorf("%s %d: the scenario cannot check a %s body", key, r.Status, mt)
		}
		return docAnswer{response: r}
	}
	v, err := decodeDocJSON(r.Body)
	if err != nil {
		t.Errorf("%s %d: the body is not JSON: %v\n%s", key, r.Status, err, r.Body)
		return docAnswer{response: r}
	}
	for _, e := range c.doc.validate(media["schema"], v, fmt.Sprintf("%s %d", key, r.Status)) {
		t.Errorf("the answer differs from the document: %s\n%s", e, r.Body)
	}
	return docAnswer{response: r, value: v}
}

// docFormValue reads a form body as the JSON object a schema describes: a
// field sent once is a string, a field sent more than once a list.
func docFormValue(b []byte) (map[string]any, error) {
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for name, vals := range form {
		if len(vals) == 1 {
			out[name] = vals[0]
			continue
		}
		list := []any{}
		for _, v := range vals {
			list = append(list, v)
		}
		out[name] = list
	}
	return out, nil
}

// fromText reads a query parameter or header value as the JSON value its
// schema describes, so that it can be validated.
func (c *docChecker) fromText(schema any, s string) any {
	types := c.doc.schemaTypes(c.t, schema)
	switch {
	case types["integer"] || types["number"]:
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s)
		}
	case types["boolean"]:
		if s == "true" || s == "false" {
			return s == "true"
		}
	}
	return s
}

// covered fails the test for each operation that never answered 2xx, each
// documented query parameter never used, and each common error never seen,
// so that the scenario keeps up with the document.
func (c *docChecker) covered(statuses ...int) {
	t := c.t
	t.Helper()
	for _, o := range c.ops {
		key := o.key()
		if !c.ok[key] {
			t.Errorf("the scenario never got a successful answer from %s, so its documented answer is unchecked", key)
			continue
		}
		for p := range c.doc.params(t, o) {
			if name, ok := strings.CutPrefix(p, "query:"); ok && !c.params[key][name] {
				t.Errorf("the scenario never used query parameter %s of %s", name, key)
			}
		}
	}
	for _, s := range statuses {
		if !c.statuses[s] {
			t.Errorf("the scenario never saw a %d answer", s)
		}
	}
	// An optional body is documented only where the server was seen
	// taking a request without one.
	for _, o := range c.ops {
		if rb := c.doc.requestBody(t, o); rb != nil && rb["required"] == false && !c.noBody[o.key()] {
			t.Errorf("the document says %s may be sent without a body, but the scenario never got a success without one", o.key())
		}
	}
}

// answeredEvery fails the test for each status the document lists for one
// of the operations (by key, such as "GET /api/v1/notifications") that the
// scenario never got from it.
func (c *docChecker) answeredEvery(keys ...string) {
	t := c.t
	t.Helper()
	for _, key := range keys {
		var op *docOperation
		for i := range c.ops {
			if c.ops[i].key() == key {
				op = &c.ops[i]
			}
		}
		if op == nil {
			t.Errorf("%s is not in %s", key, openAPIFile)
			continue
		}
		responses, _ := op.op["responses"].(map[string]any)
		for status := range responses {
			n, err := strconv.Atoi(status)
			if err == nil && !c.answered[key][n] {
				t.Errorf("the scenario never got the documented %d from %s", n, key)
			}
		}
	}
}

func docInt(v any) int64 {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return i
}

func docPageItems(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, it := range docList(m["items"]) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// TestOpenAPIResponsesMatchDocument walks every route of a running server,
// with the roles that may and may not use it, and checks each answer
// against the document.
func TestOpenAPIResponsesMatchDocument(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	eachEnv(t, func(t *testing.T, e *env) {
		c := newDocChecker(t, e, doc)
		adminID, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		swID, sw := e.user(accounts.SocialWorker)
		_, funder := e.user(accounts.Funder)
		const password = "correct horse battery" // what e.user gives everyone

		// The service.
		c.call(200, "", "GET", "/healthz", nil)
		c.call(200, "", "GET", "/api/v1/openapi.json", nil)

		// Sign-in and tokens.
		me := c.call(200, sw, "GET", "/api/v1/me", nil)
		if docInt(me["id"]) != swID || me["role"] != "social_worker" {
			t.Errorf("GET /me: %v", me)
		}
		c.call(200, funder, "GET", "/api/v1/me", nil)
		c.call(401, "", "GET", "/api/v1/me", nil)
		signedIn := c.call(201, "", "POST", "/api/v1/auth/token", map[string]any{
			"email": me["email"], "password": password, "token_name": "openapi test"})
		c.call(200, signedIn["token"].(string), "GET", "/api/v1/me", nil)
		c.call(401, "", "POST", "/api/v1/auth/token", map[string]any{"email": me["email"], "password": "not the password"})
		c.bad(400, "", "POST", "/api/v1/auth/token", "not JSON")
		c.bad(422, "", "POST", "/api/v1/auth/token", map[string]any{"email": me["email"], "password": password, "remember_me": true})

		tokens := c.call(200, sw, "GET", "/api/v1/tokens", nil)
		if len(docPageItems(tokens)) != 2 {
			t.Errorf("GET /tokens: want the 2 tokens of the social worker, got %v", tokens)
		}
		if page := c.call(200, sw, "GET", "/api/v1/tokens?limit=1&offset=1", nil); len(docPageItems(page)) != 1 || fmt.Sprint(page["total"]) != "2" {
			t.Errorf("GET /tokens?limit=1&offset=1: %v", page)
		}
		spare := c.call(201, sw, "POST", "/api/v1/tokens", map[string]any{"name": "spare"})
		spareID := docInt(spare["id"])
		c.call(201, funder, "POST", "/api/v1/tokens", map[string]any{})
		c.call(404, co, "DELETE", path("/api/v1/tokens/%d", spareID), nil)
		c.call(204, sw, "DELETE", path("/api/v1/tokens/%d", spareID), nil)
		c.call(401, spare["token"].(string), "GET", "/api/v1/me", nil)
		c.call(204, admin, "DELETE", path("/api/v1/tokens/%d", spareID), nil) // an admin may revoke anyone's

		// Staff.
		c.call(401, "", "GET", "/api/v1/users", nil)
		c.call(403, co, "GET", "/api/v1/users", nil)
		users := c.call(200, admin, "GET", "/api/v1/users?limit=2&offset=1", nil)
		if len(docPageItems(users)) != 2 || docInt(users["total"]) != 4 || docInt(users["limit"]) != 2 || docInt(users["offset"]) != 1 {
			t.Errorf("GET /users?limit=2&offset=1: %v", users)
		}
		c.bad(422, admin, "GET", "/api/v1/users?limit=501", nil)
		newUser := map[string]any{"email": "Sam.Lee@Agency.test", "name": "Sam Lee", "role": "social_worker",
			"password": "a long first passphrase", "must_change_password": true}
		sam := c.call(201, admin, "POST", "/api/v1/users", newUser)
		if sam["email"] != "sam.lee@agency.test" || sam["must_change_password"] != true {
			t.Errorf("new user: %v", sam)
		}
		c.call(409, admin, "POST", "/api/v1/users", newUser)
		c.call(403, sw, "POST", "/api/v1/users", newUser)
		c.call(200, admin, "GET", path("/api/v1/users/%d", docInt(sam["id"])), nil)
		c.call(404, admin, "GET", "/api/v1/users/999999", nil)
		c.call(200, admin, "PATCH", path("/api/v1/users/%d", docInt(sam["id"])), map[string]any{"name": "Sam Lee-Ortiz"})
		c.call(422, admin, "PATCH", path("/api/v1/users/%d", adminID), map[string]any{"active": false})
		// A one-time password needs a new one.
		c.call(422, "", "POST", "/api/v1/auth/token", map[string]any{"email": "sam.lee@agency.test", "password": "a long first passphrase"})
		c.call(201, "", "POST", "/api/v1/auth/token", map[string]any{"email": "sam.lee@agency.test",
			"password": "a long first passphrase", "new_password": "sam's own passphrase"})

		// Passwords: one's own, and an admin's reset, which ends the tokens.
		c.call(422, funder, "POST", "/api/v1/me/password", map[string]any{"current_password": "not the password", "new_password": "a fresh phrase for the funder"})
		c.call(422, funder, "POST", "/api/v1/me/password", map[string]any{"current_password": password, "new_password": "password1234"})
		c.bad(400, funder, "POST", "/api/v1/me/password", "not JSON")
		c.call(401, "", "POST", "/api/v1/me/password", map[string]any{"current_password": password, "new_password": "a fresh phrase for the funder"})
		c.call(204, funder, "POST", "/api/v1/me/password", map[string]any{"current_password": password, "new_password": "a fresh phrase for the funder"})
		samReset := path("/api/v1/users/%d/password-reset", docInt(sam["id"]))
		c.call(403, co, "POST", samReset, nil)
		c.call(404, admin, "POST", "/api/v1/users/999999/password-reset", nil)
		c.bad(422, admin, "POST", samReset, map[string]any{"password": "chosen by the admin"})
		if reset := c.call(200, admin, "POST", samReset, nil); reset["one_time_password"] == "" || docInt(reset["user_id"]) != docInt(sam["id"]) {
			t.Errorf("a password reset: %v", reset)
		}
		c.call(200, admin, "POST", samReset, map[string]any{}, "Idempotency-Key", "reset-sam")

		// Funding sources: admins manage them, coordinators read them, a
		// funder reads those linked to them.
		grantIn := map[string]any{"name": "City digital-equity grant", "funder_organization": "City of Springfield",
			"grant_reference": "DEG-2026-014", "grant_starts_on": "2026-01-01", "grant_ends_on": "2027-12-31"}
		grant := c.call(201, admin, "POST", "/api/v1/funding-sources", grantIn, "Idempotency-Key", "add-city-grant")
		grantID := docInt(grant["id"])
		c.call(201, admin, "POST", "/api/v1/funding-sources", grantIn, "Idempotency-Key", "add-city-grant")
		c.call(409, admin, "POST", "/api/v1/funding-sources", map[string]any{"name": "CITY DIGITAL-EQUITY GRANT"})
		c.call(403, co, "POST", "/api/v1/funding-sources", map[string]any{"name": "Coordinator's fund"})
		c.call(422, admin, "POST", "/api/v1/funding-sources", map[string]any{"name": "Late grant", "grant_starts_on": "2026-06-01", "grant_ends_on": "2026-01-01"})
		c.bad(400, admin, "POST", "/api/v1/funding-sources", "not JSON")
		state := c.call(201, admin, "POST", "/api/v1/funding-sources", map[string]any{"name": "State broadband fund"})
		stateID := docInt(state["id"])
		c.call(200, co, "GET", "/api/v1/funding-sources?limit=10&offset=0", nil)
		c.bad(422, co, "GET", "/api/v1/funding-sources?limit=0", nil)
		c.call(403, sw, "GET", "/api/v1/funding-sources", nil)
		c.call(401, "", "GET", "/api/v1/funding-sources", nil)
		c.call(200, co, "GET", path("/api/v1/funding-sources/%d", grantID), nil)
		c.call(404, co, "GET", "/api/v1/funding-sources/999999", nil)
		c.call(403, sw, "GET", path("/api/v1/funding-sources/%d", grantID), nil)
		c.call(200, admin, "PATCH", path("/api/v1/funding-sources/%d", grantID), map[string]any{"notes": "Renewed yearly.", "grant_ends_on": nil})
		c.call(409, admin, "PATCH", path("/api/v1/funding-sources/%d", stateID), map[string]any{"name": "city digital-equity grant"})
		c.bad(422, admin, "PATCH", path("/api/v1/funding-sources/%d", stateID), map[string]any{"name": ""})
		c.call(404, admin, "PATCH", "/api/v1/funding-sources/999999", map[string]any{"notes": "x"})
		c.call(403, co, "PATCH", path("/api/v1/funding-sources/%d", grantID), map[string]any{"notes": "x"})
		funderID := docInt(c.call(200, funder, "GET", "/api/v1/me", nil)["id"])
		linked := c.call(200, admin, "PATCH", path("/api/v1/users/%d", funderID), map[string]any{"funding_source_ids": []int64{grantID}})
		if ids := docList(linked["funding_source_ids"]); len(ids) != 1 || docInt(ids[0]) != grantID {
			t.Errorf("a funder linked: %v", linked)
		}
		c.call(422, admin, "PATCH", path("/api/v1/users/%d", swID), map[string]any{"funding_source_ids": []int64{grantID}})
		if mine := docPageItems(c.call(200, funder, "GET", "/api/v1/funding-sources", nil)); len(mine) != 1 || docInt(mine[0]["id"]) != grantID {
			t.Errorf("the funder's funding sources: %v", mine)
		}
		c.call(200, funder, "GET", path("/api/v1/funding-sources/%d", grantID), nil)
		c.call(404, funder, "GET", path("/api/v1/funding-sources/%d", stateID), nil)

		// Devices.
		hotspot := map[string]any{"kind": "hotspot", "make": "Franklin", "model": "T10", "serial": "F10X2231",
			"imei": "356938035643809", "condition": "new", "funding_source_id": grantID,
			"purchase_cost_cents": 9900, "notes": "blue case",
			"accessories": []any{map[string]any{"name": "USB-C charger", "replacement_cost_cents": 1500}}}
		dev := c.call(201, co, "POST", "/api/v1/devices", hotspot, "Idempotency-Key", "take-in-hotspot")
		devID := docInt(dev["id"])
		if dev["status"] != "available" || !strings.HasPrefix(dev["asset_tag"].(string), "DB-") {
			t.Errorf("new device: %v", dev)
		}
		again := c.call(201, co, "POST", "/api/v1/devices", hotspot, "Idempotency-Key", "take-in-hotspot")
		if docInt(again["id"]) != devID {
			t.Errorf("a replayed take-in made another device: %v", again)
		}
		c.call(422, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Two"},
			"Idempotency-Key", "take-in-hotspot")
		c.bad(422, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "A", "model": "B"},
			"Idempotency-Key", "has spaces")
		c.call(409, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Two",
			"imei": "356938035643809"})
		c.call(403, sw, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Two"})
		c.bad(422, co, "POST", "/api/v1/devices", map[string]any{"kind": "toaster", "make": "A", "model": "B", "colour": "red"})
		phone := c.call(201, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Two"})
		phoneID := docInt(phone["id"])
		list := c.call(200, sw, "GET", "/api/v1/devices?status=available&kind=hotspot&q=franklin&limit=10&offset=0", nil)
		if got := docPageItems(list); len(got) != 1 || docInt(got[0]["id"]) != devID {
			t.Errorf("filtered device list: %v", list)
		}
		c.bad(422, co, "GET", "/api/v1/devices?status=missing", nil)
		c.call(403, funder, "GET", "/api/v1/devices", nil)
		c.call(200, sw, "GET", path("/api/v1/devices/%d", devID), nil)
		c.call(200, sw, "GET", path("/api/v1/devices/%d", phoneID), nil) // no accessories
		c.call(200, sw, "GET", "/api/v1/devices?kind=phone", nil)
		if got := docPageItems(c.call(200, sw, "GET", path("/api/v1/devices?funding_source_id=%d", grantID), nil)); len(got) != 1 || got[0]["funding_source"] != "City digital-equity grant" {
			t.Errorf("devices of a funding source: %v", got)
		}
		// A funding source's name, as scripts sent when it was text.
		c.call(201, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Three", "funding_source": "state broadband fund"})
		c.call(422, co, "POST", "/api/v1/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "Three", "funding_source": "No such fund"})
		c.call(404, co, "GET", "/api/v1/devices/999999", nil)
		// Asset labels: a PDF file, not JSON.
		if sheet := c.send(true, 200, co, "GET", path("/api/v1/devices/labels.pdf?ids=%d,%d&paper=a4", devID, phoneID), nil); sheet.value != nil {
			t.Errorf("a label sheet was read as JSON: %v", sheet.value)
		}
		c.bad(422, co, "GET", path("/api/v1/devices/labels.pdf?ids=%d,%d", devID, devID), nil)
		c.call(403, sw, "GET", path("/api/v1/devices/labels.pdf?ids=%d", devID), nil)
		c.call(404, co, "GET", "/api/v1/devices/not-a-number", nil)
		edited := c.call(200, co, "PATCH", path("/api/v1/devices/%d", devID), map[string]any{"notes": "green case",
			"accessories": []any{map[string]any{"name": "USB-C charger", "replacement_cost_cents": 1500},
				map[string]any{"name": "Sleeve"}}})
		if len(docList(edited["accessories"])) != 2 {
			t.Errorf("edited device: %v", edited)
		}

		// Data plans.
		planIn := map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0101", "monthly_cost_cents": 1500,
			"data_cap_mb": 15360, "starts_on": "2026-01-01", "ends_on": "2026-12-31"}
		plan := c.call(201, co, "POST", "/api/v1/data-plans", planIn)
		planID := docInt(plan["id"])
		c.call(409, co, "POST", "/api/v1/data-plans", planIn)
		c.call(201, co, "POST", "/api/v1/data-plans", map[string]any{"carrier": "Ting", "iccid": "8901260123456789012",
			"starts_on": "2026-01-01"})
		free := c.call(200, co, "GET", "/api/v1/data-plans?free=true&q=mint&limit=5&offset=0", nil)
		if got := docPageItems(free); len(got) != 1 || docInt(got[0]["id"]) != planID {
			t.Errorf("free data plans: %v", free)
		}
		c.bad(422, co, "GET", "/api/v1/data-plans?free=maybe", nil)
		c.call(200, co, "PATCH", path("/api/v1/data-plans/%d", planID), map[string]any{"funding_source_id": stateID})
		if got := docPageItems(c.call(200, co, "GET", path("/api/v1/data-plans?funding_source_id=%d", stateID), nil)); len(got) != 1 || docInt(got[0]["id"]) != planID {
			t.Errorf("data plans of a funding source: %v", got)
		}
		c.call(403, sw, "GET", "/api/v1/data-plans", nil)
		c.call(200, co, "GET", path("/api/v1/data-plans/%d", planID), nil)
		c.call(404, co, "GET", "/api/v1/data-plans/999999", nil)
		c.call(200, co, "PATCH", path("/api/v1/data-plans/%d", planID), map[string]any{"notes": "pays monthly"})

		// Clients.
		clientIn := map[string]any{"case_number": "2026-0042", "first_name": "Rosa", "last_name": "Alvarez",
			"phone": "+1 312 555 0123", "preferred_language": "es", "preferred_channel": "sms",
			"household_size": 4, "postal_code": "60623"}
		rosa := c.send(true, 201, sw, "POST", "/api/v1/clients", clientIn, "Idempotency-Key", "record-rosa")
		rosaID := docInt(rosa.object()["id"])
		if loc := rosa.Header.Get("Location"); loc != path("/api/v1/clients/%d", rosaID) {
			t.Errorf("Location = %q for client %d", loc, rosaID)
		}
		replay := c.send(true, 201, sw, "POST", "/api/v1/clients", clientIn, "Idempotency-Key", "record-rosa")
		if replay.Header.Get("Idempotent-Replayed") != "true" || docInt(replay.object()["id"]) != rosaID {
			t.Errorf("replayed create: %s %v", replay.Header.Get("Idempotent-Replayed"), replay.object())
		}
		c.call(409, sw, "POST", "/api/v1/clients", clientIn)
		c.call(403, co, "POST", "/api/v1/clients", clientIn)
		c.call(422, sw, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0043", "first_name": "Ana",
			"last_name": "Ruiz", "preferred_channel": "sms", "household_size": 2})
		ben := c.call(201, admin, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0044", "first_name": "Ben",
			"last_name": "Okafor", "email": "ben@example.org", "preferred_channel": "email", "household_size": 1,
			"caseworker_id": swID})
		mine := c.call(200, sw, "GET", path("/api/v1/clients?q=alv&caseworker_id=%d&limit=5&offset=0", swID), nil)
		if got := docPageItems(mine); len(got) != 1 || docInt(got[0]["id"]) != rosaID {
			t.Errorf("client search: %v", mine)
		}
		c.bad(422, sw, "GET", "/api/v1/clients?caseworker_id=abc", nil)
		c.call(403, funder, "GET", "/api/v1/clients", nil)
		c.call(200, sw, "GET", path("/api/v1/clients/%d", rosaID), nil)
		c.call(404, co, "GET", path("/api/v1/clients/%d", rosaID), nil) // not referred yet: not a coordinator's to see
		// The worker asks for a device for Rosa: that refers her to the program.
		c.call(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": rosaID, "device_kind": "other", "reason": "referral"})
		c.call(200, co, "GET", path("/api/v1/clients/%d", rosaID), nil)
		c.call(200, sw, "PATCH", path("/api/v1/clients/%d", rosaID), map[string]any{"postal_code": "60624"})
		c.call(403, co, "PATCH", path("/api/v1/clients/%d", rosaID), map[string]any{"postal_code": "60625"})

		// A client's situation, which the eligibility rules look at.
		situation := c.call(200, sw, "PATCH", path("/api/v1/clients/%d", rosaID), map[string]any{
			"programs": []any{"snap", "city_rent_relief", "snap"}, "needs": []any{"school_age_children", "no_home_internet"},
			"proof_verified_on": "2026-02-20", "date_of_birth": "1988-07-14", "annual_income_cents": nil})
		if fmt.Sprint(situation["programs"]) != "[city_rent_relief snap]" || situation["annual_income_cents"] != nil ||
			situation["proof_verified_on"] != "2026-02-20" || situation["household_id"] == nil {
			t.Errorf("client with a situation: %v", situation)
		}
		household := docInt(situation["household_id"])
		luis := c.call(201, sw, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0045", "first_name": "Luis",
			"last_name": "Alvarez", "preferred_channel": "none", "household_size": 4, "household_id": household,
			"annual_income_cents": 2850000, "programs": []any{}, "proof_verified_on": nil, "date_of_birth": "2010-05-02"})
		if docInt(luis["household_id"]) != household || docInt(luis["annual_income_cents"]) != 2850000 || luis["proof_verified_on"] != nil {
			t.Errorf("client in a shared household: %v", luis)
		}
		moved := c.call(200, sw, "PATCH", path("/api/v1/clients/%d", docInt(luis["id"])), map[string]any{"household_id": nil})
		if moved["household_id"] == nil || docInt(moved["household_id"]) == household {
			t.Errorf("a client moved out keeps the household: %v", moved)
		}
		for _, in := range []map[string]any{{"date_of_birth": "2026-03-11"}, {"household_id": 999999}, {"annual_income_cents": -1}} {
			var field string
			for field = range in {
			}
			wrong := c.bad(422, sw, "PATCH", path("/api/v1/clients/%d", rosaID), in)
			if fields, _ := wrong["error"].(map[string]any)["fields"].(map[string]any); fields[field] == nil {
				t.Errorf("PATCH client with %v: the error does not name %s: %v", in, field, wrong)
			}
		}
		c.bad(422, sw, "PATCH", path("/api/v1/clients/%d", rosaID), map[string]any{"programs": []any{"SNAP"}})

		// Loans.
		loan := c.send(true, 201, co, "POST", "/api/v1/loans", map[string]any{"client_id": rosaID, "device_id": devID,
			"data_plan_id": planID, "due_on": "2026-04-10", "notes": "for job search", "walk_in_justification": "drop-in appointment"})
		loanID := docInt(loan.object()["id"])
		if loc := loan.Header.Get("Location"); loc != path("/api/v1/loans/%d", loanID) {
			t.Errorf("Location = %q for loan %d", loc, loanID)
		}
		c.call(409, co, "POST", "/api/v1/loans", map[string]any{"client_id": rosaID, "device_id": devID, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		c.call(422, co, "POST", "/api/v1/loans", map[string]any{"client_id": 999999, "device_id": phoneID, "due_on": "2026-03-01", "walk_in_justification": walkIn})
		c.call(403, sw, "POST", "/api/v1/loans", map[string]any{"client_id": rosaID, "device_id": phoneID, "due_on": "2026-04-10", "walk_in_justification": walkIn})
		loans := c.call(200, sw, "GET", path("/api/v1/loans?client_id=%d&device_id=%d&status=open&limit=5&offset=0", rosaID, devID), nil)
		if got := docPageItems(loans); len(got) != 1 || docInt(got[0]["id"]) != loanID {
			t.Errorf("loans of the client: %v", loans)
		}
		c.bad(422, co, "GET", "/api/v1/loans?status=late", nil)
		c.call(200, sw, "GET", path("/api/v1/loans/%d", loanID), nil)
		c.call(404, co, "GET", "/api/v1/loans/999999", nil)
		c.call(409, co, "POST", path("/api/v1/devices/%d/inspection", devID), map[string]any{"wiped": true, "outcome": "ready"})
		c.call(403, sw, "POST", path("/api/v1/loans/%d/renew", loanID), map[string]any{"due_on": "2026-05-10"})
		c.call(200, co, "POST", path("/api/v1/loans/%d/renew", loanID), map[string]any{"due_on": "2026-05-10"})
		e.clock.Set(testNow.AddDate(0, 3, 0))
		overdue := c.call(200, co, "GET", "/api/v1/loans?status=overdue", nil)
		if got := docPageItems(overdue); len(got) != 1 || got[0]["overdue"] != true {
			t.Errorf("overdue loans: %v", overdue)
		}
		e.clock.Set(testNow)
		returned := c.call(200, co, "POST", path("/api/v1/loans/%d/return", loanID), map[string]any{"condition": "good",
			"notes": "charger missing"})
		if returned["status"] != "returned" {
			t.Errorf("returned loan: %v", returned)
		}
		c.call(409, co, "POST", path("/api/v1/loans/%d/return", loanID), map[string]any{"condition": "good"})
		c.call(200, co, "POST", path("/api/v1/devices/%d/inspection", devID), map[string]any{"wiped": true,
			"outcome": "ready", "condition": "good", "notes": "replaced the charger"})

		lost := docInt(c.call(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": rosaID, "device_id": phoneID,
			"due_on": "2026-04-10", "walk_in_justification": walkIn})["id"])
		c.call(200, co, "POST", path("/api/v1/loans/%d/lost", lost), map[string]any{})
		c.call(409, co, "POST", path("/api/v1/loans/%d/renew", lost), map[string]any{"due_on": "2026-05-10"})
		recovered := c.call(200, co, "POST", path("/api/v1/loans/%d/recovered", lost), map[string]any{"condition": "fair"})
		if recovered["status"] != "lost" || recovered["recovered_at"] == nil {
			t.Errorf("recovered loan: %v", recovered)
		}
		c.call(409, co, "POST", path("/api/v1/loans/%d/recovered", lost), map[string]any{"condition": "fair"})

		// History.
		hist := c.call(200, co, "GET", path("/api/v1/devices/%d/history?limit=100&offset=0", devID), nil)
		var actions []string
		for _, ev := range docPageItems(hist) {
			actions = append(actions, ev["action"].(string))
		}
		if want := []string{"device.created", "device.updated", "loan.issued", "loan.renewed", "loan.returned", "device.inspected"}; !slices.Equal(actions, want) {
			t.Errorf("device history %v, want %v", actions, want)
		}
		c.call(403, sw, "GET", path("/api/v1/devices/%d/history", devID), nil)
		c.call(200, sw, "GET", path("/api/v1/clients/%d/history?limit=100&offset=0", rosaID), nil)
		export := c.call(200, sw, "GET", path("/api/v1/clients/%d/export", rosaID), nil)
		if docInt(export["client"].(map[string]any)["id"]) != rosaID || len(export["history"].([]any)) == 0 {
			t.Errorf("Rosa's export: %v", export)
		}
		c.call(403, co, "GET", path("/api/v1/clients/%d/export", rosaID), nil)
		c.call(404, co, "GET", "/api/v1/clients/999999/history", nil)

		// Eligibility. Rosa was referred, so a coordinator may check her
		// too; Ben was not, and is named like a client that does not exist.
		check := map[string]any{"client_id": rosaID, "device_kind": "laptop", "needs_data_plan": true}
		decision := c.call(200, sw, "POST", "/api/v1/eligibility/check", check, "Idempotency-Key", "check-rosa")
		if decision["outcome"] != "eligible" || docInt(decision["rule_set_version"]) != 1 || decision["decided_on"] != "2026-03-10" {
			t.Errorf("eligibility of a client in snap, income not disclosed: %v", decision)
		}
		undecided := false
		for _, r := range docList(decision["rules"]) {
			undecided = undecided || r.(map[string]any)["unknown"] == true
		}
		if !undecided {
			t.Errorf("the income rule cannot be decided without the income, but no rule says unknown: %v", decision)
		}
		c.call(200, co, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": rosaID, "device_kind": "hotspot"})
		c.call(422, co, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": docInt(ben["id"]), "device_kind": "phone"})
		c.call(422, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": 999999, "device_kind": "phone"})
		c.call(403, funder, "POST", "/api/v1/eligibility/check", check)
		c.bad(422, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": rosaID, "device_kind": "toaster"})
		c.bad(422, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": rosaID, "device_kind": "phone", "urgent": true})

		// Device requests and the waiting list, under the rules that ship.
		// No laptop or tablet is in the pool yet. Points (the shipped
		// weights): urgency low 0, normal 10, high 30; fleeing violence 40.
		_, sw2 := e.user(accounts.SocialWorker)
		var refused map[string]any
		ana := e.situated(sw, map[string]any{"annual_income_cents": 1000000})
		cara := e.situated(sw, map[string]any{"annual_income_cents": 1000000, "needs": []any{"fleeing_violence"}})
		dora := e.situated(sw, map[string]any{"annual_income_cents": 90000000}) // far over the limit, in no program
		eve := e.situated(sw, nil)                                              // income not disclosed: the rules cannot decide
		reqURL := func(id int64, action string) string {
			if action == "" {
				return path("/api/v1/requests/%d", id)
			}
			return path("/api/v1/requests/%d/%s", id, action)
		}
		status := func(r map[string]any) any { return r["status"] }
		outcome := func(r map[string]any) any { d, _ := r["decision"].(map[string]any); return d["outcome"] }

		anaIn := map[string]any{"client_id": ana, "device_kind": "laptop", "needs_data_plan": true,
			"reason": "job search and online classes", "urgency": "high"}
		filed := c.send(true, 201, sw, "POST", "/api/v1/requests", anaIn, "Idempotency-Key", "request-ana")
		anaReq := filed.object()
		anaID := docInt(anaReq["id"])
		if loc := filed.Header.Get("Location"); loc != reqURL(anaID, "") {
			t.Errorf("Location = %q for request %d", loc, anaID)
		}
		if status(anaReq) != "waitlisted" || outcome(anaReq) != "eligible" || docInt(anaReq["priority"]) != 30 ||
			fmt.Sprint(anaReq["priority_reasons"]) != "[high urgency: +30]" || anaReq["waitlisted_at"] == nil ||
			anaReq["loan_id"] != nil || docInt(anaReq["created_by"]) != swID {
			t.Errorf("an eligible request with no laptop free: %v", anaReq)
		}
		replayed := c.send(true, 201, sw, "POST", "/api/v1/requests", anaIn, "Idempotency-Key", "request-ana")
		if replayed.Header.Get("Idempotent-Replayed") != "true" || docInt(replayed.object()["id"]) != anaID {
			t.Errorf("replayed request: %s %v", replayed.Header.Get("Idempotent-Replayed"), replayed.object())
		}
		c.call(409, sw, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "laptop"})
		caraReq := c.call(201, admin, "POST", "/api/v1/requests", map[string]any{"client_id": cara, "device_kind": "laptop"})
		caraID := docInt(caraReq["id"])
		if status(caraReq) != "waitlisted" || caraReq["urgency"] != "normal" || docInt(caraReq["priority"]) != 50 ||
			fmt.Sprint(caraReq["priority_reasons"]) != "[normal urgency: +10 fleeing violence: +40]" {
			t.Errorf("a request with the default urgency and a weighted need: %v", caraReq)
		}
		doraReq := c.call(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": dora, "device_kind": "tablet"})
		doraID := docInt(doraReq["id"])
		if status(doraReq) != "denied" || outcome(doraReq) != "ineligible" || doraReq["waitlisted_at"] != nil {
			t.Errorf("an ineligible request: %v", doraReq)
		}
		eveReq := c.call(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": eve, "device_kind": "tablet", "urgency": "low"})
		eveID := docInt(eveReq["id"])
		if status(eveReq) != "needs_review" || outcome(eveReq) != "needs_review" {
			t.Errorf("a request the rules cannot decide: %v", eveReq)
		}
		c.call(422, sw2, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "phone"})
		c.call(422, sw, "POST", "/api/v1/requests", map[string]any{"client_id": 999999, "device_kind": "phone"})
		c.call(403, co, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "phone"})
		c.call(403, funder, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "phone"})
		refused = c.bad(422, sw, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "toaster", "urgency": "asap"})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["device_kind"] == nil || fields["urgency"] == nil {
			t.Errorf("a request for an unknown kind, with an unknown urgency: %v", refused)
		}
		c.bad(422, sw, "POST", "/api/v1/requests", map[string]any{"client_id": ana, "device_kind": "phone", "colour": "red"})
		c.bad(400, sw, "POST", "/api/v1/requests", "not JSON")

		// Reading requests.
		mineReqs := c.call(200, sw, "GET", path("/api/v1/requests?client_id=%d&status=waitlisted&device_kind=laptop&limit=5&offset=0", ana), nil)
		if got := docPageItems(mineReqs); len(got) != 1 || docInt(got[0]["id"]) != anaID {
			t.Errorf("a client's waitlisted laptop requests: %v", mineReqs)
		}
		everyReq := c.call(200, co, "GET", "/api/v1/requests", nil)
		if got := docPageItems(everyReq); docInt(everyReq["total"]) != 5 || len(got) != 5 || docInt(got[0]["id"]) != eveID {
			t.Errorf("every request, newest first: %v", everyReq)
		}
		if none := c.call(200, sw2, "GET", "/api/v1/requests", nil); docInt(none["total"]) != 0 {
			t.Errorf("another social worker sees requests for clients not theirs: %v", none)
		}
		c.bad(422, co, "GET", "/api/v1/requests?status=open", nil)
		c.bad(422, co, "GET", "/api/v1/requests?device_kind=toaster&client_id=0", nil)
		c.call(403, funder, "GET", "/api/v1/requests", nil)
		c.call(200, sw, "GET", reqURL(anaID, ""), nil)
		c.call(200, co, "GET", reqURL(doraID, ""), nil)
		c.call(404, sw2, "GET", reqURL(anaID, ""), nil)
		c.call(404, co, "GET", reqURL(999999, ""), nil)
		c.call(403, funder, "GET", reqURL(anaID, ""), nil)

		// The waiting list: more points first.
		line := c.call(200, co, "GET", "/api/v1/waitlist?kind=laptop&limit=10&offset=0", nil)
		if got := docPageItems(line); len(got) != 2 || docInt(got[0]["request_id"]) != caraID || docInt(got[0]["position"]) != 1 ||
			docInt(got[0]["score"]) != 50 || docInt(got[1]["request_id"]) != anaID || docInt(got[1]["position"]) != 2 {
			t.Errorf("the laptop line: %v", line)
		}
		if page := c.call(200, admin, "GET", "/api/v1/waitlist?kind=laptop&limit=1&offset=1", nil); len(docPageItems(page)) != 1 ||
			docInt(docPageItems(page)[0]["position"]) != 2 || docInt(page["total"]) != 2 {
			t.Errorf("the second page of the laptop line: %v", page)
		}
		c.bad(422, co, "GET", "/api/v1/waitlist?kind=toaster", nil)
		c.call(403, sw, "GET", "/api/v1/waitlist", nil)

		// Approve: only from needs_review.
		c.call(403, sw, "POST", reqURL(eveID, "approve"), map[string]any{})
		c.call(409, co, "POST", reqURL(anaID, "approve"), map[string]any{})
		c.call(404, co, "POST", reqURL(999999, "approve"), map[string]any{})
		c.bad(422, co, "POST", reqURL(eveID, "approve"), map[string]any{"reason": "seen in person"})
		c.bad(400, co, "POST", reqURL(eveID, "approve"), "[]")
		c.bad(422, co, "POST", reqURL(eveID, "deny"), nil) // a denial needs its justification
		approved := c.call(200, co, "POST", reqURL(eveID, "approve"), map[string]any{"justification": "income letter seen in person"})
		if status(approved) != "waitlisted" || approved["justification"] != "income letter seen in person" || outcome(approved) != "needs_review" {
			t.Errorf("an approved request with no tablet free: %v", approved)
		}
		// The body may be left out: no justification.
		bare := c.call(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": eve, "device_kind": "other"})
		if bare = c.call(200, co, "POST", reqURL(docInt(bare["id"]), "approve"), nil); status(bare) != "waitlisted" || bare["justification"] != "" {
			t.Errorf("a request approved without a body: %v", bare)
		}
		c.call(200, sw, "POST", reqURL(docInt(bare["id"]), "cancel"), nil)

		// Deny: with a justification of 10 characters or more.
		justified := map[string]any{"justification": "moved out of the service area"}
		c.call(403, sw, "POST", reqURL(anaID, "deny"), justified)
		refused = c.bad(422, co, "POST", reqURL(anaID, "deny"), map[string]any{"justification": "too short"})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["justification"] == nil {
			t.Errorf("a denial with a short justification: %v", refused)
		}
		c.bad(422, co, "POST", reqURL(anaID, "deny"), map[string]any{})
		c.call(404, co, "POST", reqURL(999999, "deny"), justified)
		c.call(409, co, "POST", reqURL(doraID, "deny"), justified)
		if denied := c.call(200, co, "POST", reqURL(anaID, "deny"), justified); status(denied) != "denied" ||
			denied["justification"] != justified["justification"] {
			t.Errorf("a denied request: %v", denied)
		}

		// Override: only from denied.
		overruled := map[string]any{"justification": "income fell last month; letter on file"}
		c.call(403, sw, "POST", reqURL(doraID, "override"), overruled)
		c.bad(422, co, "POST", reqURL(doraID, "override"), map[string]any{"justification": "because"})
		c.call(404, co, "POST", reqURL(999999, "override"), overruled)
		c.call(409, co, "POST", reqURL(caraID, "override"), overruled)
		over := c.call(200, admin, "POST", reqURL(doraID, "override"), overruled)
		if status(over) != "waitlisted" || outcome(over) != "ineligible" || over["justification"] != overruled["justification"] {
			t.Errorf("an overridden request with no tablet free: %v", over)
		}

		// Every line, kind by kind, each numbered from 1.
		lines := c.call(200, co, "GET", "/api/v1/waitlist", nil)
		var order []string
		for _, it := range docPageItems(lines) {
			order = append(order, fmt.Sprintf("%v %d %d", it["device_kind"], docInt(it["position"]), docInt(it["request_id"])))
		}
		if want := []string{fmt.Sprint("laptop 1 ", caraID), fmt.Sprint("tablet 1 ", doraID), fmt.Sprint("tablet 2 ", eveID)}; !slices.Equal(order, want) {
			t.Errorf("every line: %v, want %v", order, want)
		}

		// A laptop taken in is held for the head of its line, and a loan
		// against the request fulfils it.
		laptop := e.device(co, "laptop")
		if r := c.call(200, sw, "GET", reqURL(caraID, ""), nil); status(r) != "ready" {
			t.Errorf("the head of the laptop line after a laptop came in: %v", r)
		}
		c.call(409, co, "POST", "/api/v1/loans", map[string]any{"client_id": ana, "device_id": laptop, "due_on": "2026-04-10", "request_id": anaID})
		for _, in := range []map[string]any{{"client_id": ana, "request_id": caraID}, {"client_id": cara, "request_id": 999999},
			{"client_id": cara, "device_id": e.device(co, "phone"), "request_id": caraID}} {
			body := map[string]any{"device_id": laptop, "due_on": "2026-04-10"}
			maps.Copy(body, in)
			refused = c.call(422, co, "POST", "/api/v1/loans", body)
			if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["request_id"] == nil {
				t.Errorf("a loan with %v: %v", in, refused)
			}
		}
		filledLoan := c.call(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": cara, "device_id": laptop,
			"due_on": "2026-04-10", "request_id": caraID})
		if r := c.call(200, sw, "GET", reqURL(caraID, ""), nil); status(r) != "fulfilled" || docInt(r["loan_id"]) != docInt(filledLoan["id"]) {
			t.Errorf("a request a loan was issued against: %v", r)
		}

		// Cancel: a ready request's tablet passes to the next in line.
		e.device(co, "tablet")
		if r := c.call(200, co, "GET", reqURL(doraID, ""), nil); status(r) != "ready" {
			t.Errorf("the head of the tablet line after a tablet came in: %v", r)
		}
		c.call(403, funder, "POST", reqURL(doraID, "cancel"), map[string]any{})
		c.call(404, sw2, "POST", reqURL(doraID, "cancel"), map[string]any{})
		c.call(404, sw, "POST", reqURL(999999, "cancel"), map[string]any{})
		c.bad(422, sw, "POST", reqURL(doraID, "cancel"), map[string]any{"reason": "found one elsewhere"})
		c.call(409, sw, "POST", reqURL(caraID, "cancel"), map[string]any{})
		if r := c.call(200, sw, "POST", reqURL(doraID, "cancel"), map[string]any{}); status(r) != "cancelled" {
			t.Errorf("a cancelled request: %v", r)
		}
		c.call(409, sw, "POST", reqURL(doraID, "cancel"), map[string]any{})
		if r := c.call(200, co, "GET", reqURL(eveID, ""), nil); status(r) != "ready" {
			t.Errorf("the next in the tablet line after a ready request was cancelled: %v", r)
		}
		c.call(200, co, "POST", reqURL(eveID, "cancel"), nil) // no body, as the docs show
		c.bad(415, co, "POST", reqURL(eveID, "cancel"), "{}", "Content-Type", "text/plain")

		// Each step is in the client's history.
		var steps []string
		for _, ev := range docPageItems(c.call(200, sw, "GET", path("/api/v1/clients/%d/history?limit=100", dora), nil)) {
			if a, _ := ev["action"].(string); strings.HasPrefix(a, "request.") {
				steps = append(steps, a)
			}
		}
		if want := []string{"request.filed", "request.approved", "request.waitlisted", "request.ready", "request.cancelled"}; !slices.Equal(steps, want) {
			t.Errorf("the history of a request: %v, want %v", steps, want)
		}

		// Without a token, none of it.
		for _, r := range []struct{ method, target string }{{"GET", "/api/v1/requests"}, {"POST", "/api/v1/requests"},
			{"GET", reqURL(anaID, "")}, {"POST", reqURL(anaID, "approve")}, {"POST", reqURL(anaID, "deny")},
			{"POST", reqURL(anaID, "override")}, {"POST", reqURL(anaID, "cancel")}, {"GET", "/api/v1/waitlist"}} {
			c.call(401, "", r.method, r.target, nil)
		}

		current := c.call(200, admin, "GET", "/api/v1/eligibility/rules", nil)
		if docInt(current["version"]) != 1 || current["created_by"] != nil {
			t.Errorf("the rules a new installation ships with: %v", current)
		}
		c.call(403, co, "GET", "/api/v1/eligibility/rules", nil)
		c.call(403, sw, "GET", "/api/v1/eligibility/rules", nil)
		ruleSet := map[string]any{"name": "Spring 2026", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"name": "income_or_program", "any_of": []any{
				map[string]any{"kind": "income", "percent": 150},
				map[string]any{"kind": "programs", "programs": []any{"snap", "city_rent_relief"}}}},
			map[string]any{"kind": "proof_recent", "months": 12},
			map[string]any{"kind": "max_open_loans", "per": "client", "max": 2},
			map[string]any{"kind": "max_open_loans", "per": "household", "max": 1, "device_kind": "hotspot"},
			map[string]any{"kind": "no_recent_loss", "months": 12},
			map[string]any{"kind": "waiting_period", "months": 1},
			map[string]any{"name": "adult", "kind": "age_range", "min_age": 18, "max_age": 130},
			map[string]any{"kind": "postal_area", "postal_prefixes": []any{"606"}},
			map[string]any{"all_of": []any{map[string]any{"kind": "needs", "flags": []any{"no_home_internet"}}}},
		}}, "priority": map[string]any{"urgency": map[string]any{"normal": 5, "high": 50}, "needs": map[string]any{"fleeing_violence": 60}}}
		v2 := c.call(200, admin, "PUT", "/api/v1/eligibility/rules", ruleSet, "Idempotency-Key", "rules-spring")
		if docInt(v2["version"]) != 2 || docInt(v2["created_by"]) != adminID || v2["name"] != "Spring 2026" {
			t.Errorf("replaced rules: %v", v2)
		}
		again2 := c.send(true, 200, admin, "PUT", "/api/v1/eligibility/rules", ruleSet, "Idempotency-Key", "rules-spring")
		if again2.Header.Get("Idempotent-Replayed") != "true" || docInt(again2.object()["version"]) != 2 {
			t.Errorf("replayed rules: %s %v", again2.Header.Get("Idempotent-Replayed"), again2.object())
		}
		c.call(200, admin, "GET", "/api/v1/eligibility/rules", nil) // the new version, with its priority, as sent back
		c.call(403, co, "PUT", "/api/v1/eligibility/rules", ruleSet)
		badRules := map[string]any{"name": "Broken", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "income", "percent": 200}, map[string]any{"kind": "proof_recent", "months": 0}}}}
		wrong := c.bad(422, admin, "PUT", "/api/v1/eligibility/rules", badRules)
		if fields, _ := wrong["error"].(map[string]any)["fields"].(map[string]any); len(fields) != 1 || fields["rules.all_of[1].months"] == nil {
			t.Errorf("a rule set with a bad rule: %v", wrong)
		}
		c.call(422, admin, "PUT", "/api/v1/eligibility/rules", map[string]any{"name": " ", "region": "48",
			"rules": map[string]any{"kind": "waiting_period", "months": 3}})
		wrong = c.bad(422, admin, "PUT", "/api/v1/eligibility/rules", map[string]any{"name": "Typo", "region": "48",
			"rules": map[string]any{"kind": "waiting_period", "monhts": 3}})
		if fields, _ := wrong["error"].(map[string]any)["fields"].(map[string]any); fields["body"] == nil {
			t.Errorf("a rule set with an unknown field: %v", wrong)
		}
		c.bad(400, admin, "PUT", "/api/v1/eligibility/rules", "[]")
		versions := c.call(200, admin, "GET", "/api/v1/eligibility/rules/versions?limit=1&offset=0", nil)
		if got := docPageItems(versions); len(got) != 1 || docInt(got[0]["version"]) != 2 || docInt(versions["total"]) != 2 {
			t.Errorf("rule set versions, newest first: %v", versions)
		}
		c.call(403, sw, "GET", "/api/v1/eligibility/rules/versions", nil)
		c.bad(422, admin, "GET", "/api/v1/eligibility/rules/versions?offset=-1", nil)
		if d := c.call(200, co, "POST", "/api/v1/eligibility/check", check); docInt(d["rule_set_version"]) != 2 {
			t.Errorf("a check after the rules were replaced: %v", d)
		}

		guidelines := c.call(200, admin, "GET", "/api/v1/eligibility/guidelines", nil)
		if len(docList(guidelines["items"])) == 0 {
			t.Errorf("no guideline tables ship: %v", guidelines)
		}
		shippedID := docList(guidelines["items"])[0].(map[string]any)["id"]
		c.call(403, co, "GET", "/api/v1/eligibility/guidelines", nil)
		alaska := map[string]any{"id": "hhs-2026-ak", "name": "HHS poverty guidelines 2026, Alaska", "region": "AK",
			"year": 2026, "currency": "USD", "source": "Federal Register 91 FR 1797, 15 January 2026",
			"amounts_cents": []any{1995000, 2705000, 3415000}, "each_additional_cents": 710000}
		loaded := c.send(true, 201, admin, "POST", "/api/v1/eligibility/guidelines", alaska)
		if got := c.call(200, admin, "GET", loaded.Header.Get("Location"), nil); got["id"] != "hhs-2026-ak" || got["region"] != "AK" {
			t.Errorf("the table loaded, read at its Location %s: %v", loaded.Header.Get("Location"), got)
		}
		if got := c.call(200, admin, "GET", "/api/v1/eligibility/guidelines/"+url.PathEscape(shippedID.(string)), nil); got["id"] != shippedID {
			t.Errorf("a shipped table: %v", got)
		}
		c.call(404, admin, "GET", "/api/v1/eligibility/guidelines/no-such-table", nil)
		c.call(403, co, "GET", loaded.Header.Get("Location"), nil)
		c.call(401, "", "GET", loaded.Header.Get("Location"), nil)
		c.call(409, admin, "POST", "/api/v1/eligibility/guidelines", alaska)
		taken := maps.Clone(alaska)
		taken["id"] = shippedID
		if conflict := c.call(409, admin, "POST", "/api/v1/eligibility/guidelines", taken); conflict["error"].(map[string]any)["fields"] == nil {
			t.Errorf("loading a table under a shipped id: %v", conflict)
		}
		falling := maps.Clone(alaska)
		falling["id"], falling["amounts_cents"] = "hhs-2026-ak-typo", []any{1995000, 1705000}
		wrong = c.call(422, admin, "POST", "/api/v1/eligibility/guidelines", falling)
		if fields, _ := wrong["error"].(map[string]any)["fields"].(map[string]any); fields["amounts_cents[1]"] == nil {
			t.Errorf("a table whose amounts fall: %v", wrong)
		}
		c.call(403, co, "POST", "/api/v1/eligibility/guidelines", alaska)
		if got := c.call(200, admin, "GET", "/api/v1/eligibility/guidelines", nil); len(docList(got["items"])) != len(docList(guidelines["items"]))+1 {
			t.Errorf("the loaded table is not listed: %v", got)
		}

		// Training. Sessions are scheduled by coordinators and admins;
		// social workers see them and enroll their own clients.
		luisID, benID := docInt(luis["id"]), docInt(ben["id"])
		other := e.client(sw2)
		sessURL := func(id int64, rest string) string { return path("/api/v1/training/sessions/%d", id) + rest }
		basicsIn := map[string]any{"title": "Smartphone basics", "topic": "device_basics", "language": "ES",
			"location": "Room 2, 1500 W 18th St", "starts_at": "2026-03-12T15:00:00Z", "ends_at": "2026-03-12T17:00:00Z",
			"capacity": 1, "instructor": "M. Ortiz", "notes": "bring a charged phone"}
		made := c.send(true, 201, co, "POST", "/api/v1/training/sessions", basicsIn, "Idempotency-Key", "session-basics")
		basics := made.object()
		basicsID := docInt(basics["id"])
		if loc := made.Header.Get("Location"); loc != sessURL(basicsID, "") {
			t.Errorf("Location = %q for session %d", loc, basicsID)
		}
		if basics["status"] != "scheduled" || basics["language"] != "es" || docInt(basics["enrolled_count"]) != 0 {
			t.Errorf("a new session: %v", basics)
		}
		if again := c.send(true, 201, co, "POST", "/api/v1/training/sessions", basicsIn, "Idempotency-Key", "session-basics"); again.Header.Get("Idempotent-Replayed") != "true" || docInt(again.object()["id"]) != basicsID {
			t.Errorf("replayed session: %s %v", again.Header.Get("Idempotent-Replayed"), again.object())
		}
		c.call(422, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "Other", "topic": "email",
			"starts_at": "2026-03-12T15:00:00Z", "ends_at": "2026-03-12T16:00:00Z", "capacity": 5}, "Idempotency-Key", "session-basics")
		c.call(403, sw, "POST", "/api/v1/training/sessions", basicsIn)
		c.call(403, funder, "POST", "/api/v1/training/sessions", basicsIn)
		c.bad(400, co, "POST", "/api/v1/training/sessions", "not JSON")
		tooLong := maps.Clone(basicsIn)
		tooLong["ends_at"] = "2026-03-13T04:00:00Z" // 13 hours
		refused = c.call(422, co, "POST", "/api/v1/training/sessions", tooLong)
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["ends_at"] == nil {
			t.Errorf("a session of 13 hours: %v", refused)
		}
		backwards := maps.Clone(basicsIn)
		backwards["ends_at"], backwards["language"] = "2026-03-12T14:00:00Z", "not a language"
		refused = c.call(422, co, "POST", "/api/v1/training/sessions", backwards)
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["ends_at"] == nil || fields["language"] == nil {
			t.Errorf("a session that ends before it starts, in no language: %v", refused)
		}
		c.bad(422, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "No times", "topic": "email", "capacity": 5})
		c.bad(422, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "Typo", "topic": "email",
			"starts_at": "2026-03-12T15:00:00Z", "ends_at": "2026-03-12T16:00:00Z", "capacity": 5, "room": "2"})
		emailID := docInt(c.call(201, admin, "POST", "/api/v1/training/sessions", map[string]any{"title": "Email for job seekers",
			"topic": "email", "starts_at": "2026-03-12T16:00:00Z", "ends_at": "2026-03-12T18:00:00Z", "capacity": 5})["id"])
		laterID := docInt(c.call(201, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "Staying safe online",
			"topic": "online_safety", "starts_at": "2026-03-20T15:00:00Z", "ends_at": "2026-03-20T16:30:00Z", "capacity": 2})["id"])

		// Reading sessions.
		found := c.call(200, sw, "GET", "/api/v1/training/sessions?from=2026-03-11T00:00:00Z&to=2026-04-01T00:00:00Z&topic=device_basics&language=es&include_cancelled=false&limit=5&offset=0", nil)
		if got := docPageItems(found); len(got) != 1 || docInt(got[0]["id"]) != basicsID {
			t.Errorf("sessions on device_basics in Spanish: %v", found)
		}
		if all := c.call(200, co, "GET", "/api/v1/training/sessions", nil); docInt(all["total"]) != 3 {
			t.Errorf("every scheduled session: %v", all)
		}
		refused = c.bad(422, sw, "GET", "/api/v1/training/sessions?from=tomorrow&include_cancelled=maybe", nil)
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["from"] == nil || fields["include_cancelled"] == nil {
			t.Errorf("a session list with a bad from and include_cancelled: %v", refused)
		}
		c.bad(422, sw, "GET", "/api/v1/training/sessions?limit=0", nil)
		c.call(403, funder, "GET", "/api/v1/training/sessions", nil)
		c.call(200, sw, "GET", sessURL(basicsID, ""), nil)
		c.call(404, sw, "GET", sessURL(999999, ""), nil)
		c.call(403, funder, "GET", sessURL(basicsID, ""), nil)

		// Enrolling: one seat, then the waiting list.
		enrolled := c.send(true, 201, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": rosaID},
			"Idempotency-Key", "enroll-rosa")
		if p := enrolled.object(); p["status"] != "enrolled" || docInt(p["client_id"]) != rosaID || p["attendance"] != "" ||
			p["assessment_score"] != nil || docInt(p["created_by"]) != swID {
			t.Errorf("an enrollment with a seat free: %v", p)
		}
		if again := c.send(true, 201, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": rosaID},
			"Idempotency-Key", "enroll-rosa"); again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a replayed enrollment: %v", again.Header)
		}
		placeAt := enrolled.Header.Get("Location")
		if p := c.call(200, sw, "GET", placeAt, nil); p["status"] != "enrolled" || docInt(p["id"]) != docInt(enrolled.object()["id"]) {
			t.Errorf("Rosa's place, read at its Location %s: %v", placeAt, p)
		}
		c.call(200, co, "GET", placeAt, nil)
		c.call(404, sw2, "GET", placeAt, nil)
		c.call(404, sw, "GET", sessURL(emailID, path("/enrollments/%d", rosaID)), nil) // never enrolled there
		c.call(403, funder, "GET", placeAt, nil)
		c.call(401, "", "GET", placeAt, nil)
		c.call(409, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": rosaID})
		if p := c.call(201, admin, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": benID}); p["status"] != "waitlisted" {
			t.Errorf("an enrollment in a full session: %v", p)
		}
		if p := c.call(201, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": luisID}); p["status"] != "waitlisted" {
			t.Errorf("a second on the waiting list: %v", p)
		}
		c.call(409, sw, "POST", sessURL(emailID, "/enrollments"), map[string]any{"client_id": rosaID}) // overlaps basics
		c.call(422, sw2, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": luisID})
		c.call(422, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": other})
		c.call(404, sw, "POST", sessURL(999999, "/enrollments"), map[string]any{"client_id": rosaID})
		refused = c.call(422, co, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": 999999})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["client_id"] == nil {
			t.Errorf("a coordinator enrolling no client: %v", refused)
		}
		c.bad(422, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{})
		c.bad(400, sw, "POST", sessURL(basicsID, "/enrollments"), "[]")
		c.call(403, funder, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": rosaID})

		places := c.call(200, co, "GET", sessURL(basicsID, "/enrollments?limit=10&offset=0"), nil)
		var line2 []string
		for _, p := range docPageItems(places) {
			line2 = append(line2, fmt.Sprintf("%d %v", docInt(p["client_id"]), p["status"]))
		}
		if want := []string{fmt.Sprint(rosaID, " enrolled"), fmt.Sprint(benID, " waitlisted"), fmt.Sprint(luisID, " waitlisted")}; !slices.Equal(line2, want) {
			t.Errorf("the places in a full session: %v, want %v", line2, want)
		}
		c.call(403, sw, "GET", sessURL(basicsID, "/enrollments"), nil)
		c.call(404, co, "GET", sessURL(999999, "/enrollments"), nil)
		c.bad(422, co, "GET", sessURL(basicsID, "/enrollments?offset=-1"), nil)

		// Changing a session: more seats seat the waiting list.
		grown := c.call(200, co, "PATCH", sessURL(basicsID, ""), map[string]any{"capacity": 2, "location": "Room 3"},
			"Idempotency-Key", "grow-basics")
		if docInt(grown["enrolled_count"]) != 2 || docInt(grown["capacity"]) != 2 || grown["location"] != "Room 3" {
			t.Errorf("a session given a second seat: %v", grown)
		}
		refused = c.call(422, co, "PATCH", sessURL(basicsID, ""), map[string]any{"capacity": 1})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields["capacity"] == nil {
			t.Errorf("a capacity below the seats taken: %v", refused)
		}
		c.call(403, sw, "PATCH", sessURL(basicsID, ""), map[string]any{"notes": "bring a charger"})
		c.call(404, co, "PATCH", sessURL(999999, ""), map[string]any{"notes": "bring a charger"})
		c.bad(400, co, "PATCH", sessURL(basicsID, ""), "[]")

		// Withdrawing: a freed seat goes to the next on the waiting list.
		out := c.call(200, sw, "DELETE", sessURL(basicsID, path("/enrollments/%d", benID)), nil)
		if out["status"] != "withdrawn" || docInt(out["client_id"]) != benID {
			t.Errorf("a withdrawn client: %v", out)
		}
		if p := c.call(201, sw, "POST", sessURL(laterID, "/enrollments"), map[string]any{"client_id": benID}); p["status"] != "enrolled" {
			t.Errorf("an enrollment in a later session: %v", p)
		}
		c.call(404, sw, "DELETE", sessURL(basicsID, path("/enrollments/%d", benID)), nil)
		c.call(404, sw2, "DELETE", sessURL(basicsID, path("/enrollments/%d", luisID)), nil)
		c.call(404, co, "DELETE", sessURL(999999, path("/enrollments/%d", rosaID)), nil)
		if gone := c.call(404, co, "DELETE", sessURL(basicsID, "/enrollments/999999"), nil); gone["error"].(map[string]any)["code"] != "not_found" {
			t.Errorf("a coordinator withdrawing no client: %v", gone)
		}
		c.call(403, funder, "DELETE", sessURL(basicsID, path("/enrollments/%d", luisID)), nil)
		if s := c.call(200, co, "GET", sessURL(basicsID, ""), nil); docInt(s["enrolled_count"]) != 2 {
			t.Errorf("the session after a withdrawal and a promotion: %v", s)
		}

		// Cancelling a session cancels every place in it.
		called := c.call(200, co, "POST", sessURL(laterID, "/cancel"), nil, "Idempotency-Key", "cancel-later") // no body needed
		if called["status"] != "cancelled" || docInt(called["enrolled_count"]) != 0 {
			t.Errorf("a cancelled session: %v", called)
		}
		c.call(409, co, "POST", sessURL(laterID, "/cancel"), map[string]any{})
		c.call(409, co, "PATCH", sessURL(laterID, ""), map[string]any{"notes": "moved"})
		c.call(409, sw, "POST", sessURL(laterID, "/enrollments"), map[string]any{"client_id": rosaID})
		c.call(403, sw, "POST", sessURL(emailID, "/cancel"), map[string]any{})
		c.call(404, co, "POST", sessURL(999999, "/cancel"), map[string]any{})
		c.bad(422, co, "POST", sessURL(emailID, "/cancel"), map[string]any{"reason": "no instructor"})
		c.bad(400, co, "POST", sessURL(emailID, "/cancel"), "not JSON")
		if all := c.call(200, co, "GET", "/api/v1/training/sessions?include_cancelled=true", nil); docInt(all["total"]) != 3 {
			t.Errorf("sessions with the cancelled ones: %v", all)
		}
		if all := c.call(200, co, "GET", "/api/v1/training/sessions", nil); docInt(all["total"]) != 2 {
			t.Errorf("sessions without the cancelled one: %v", all)
		}

		// Attendance, once the session has started.
		attend := map[string]any{"client_id": rosaID, "status": "present", "hours": 1.5, "module_completed": true,
			"assessment_score": 85, "pass_mark": 70}
		c.call(409, co, "POST", sessURL(basicsID, "/attendance"), attend)
		e.clock.Set(time.Date(2026, 3, 12, 17, 30, 0, 0, time.UTC))
		c.call(409, sw, "POST", sessURL(basicsID, "/enrollments"), map[string]any{"client_id": benID}) // started
		marked := c.call(200, co, "POST", sessURL(basicsID, "/attendance"), attend, "Idempotency-Key", "attend-rosa")
		if marked["attendance"] != "present" || fmt.Sprint(marked["hours"]) != "1.5" || marked["module_completed"] != true ||
			docInt(marked["assessment_score"]) != 85 {
			t.Errorf("attendance recorded: %v", marked)
		}
		corrected := c.call(200, co, "POST", sessURL(basicsID, "/attendance"), map[string]any{"client_id": rosaID,
			"status": "present", "hours": 2, "module_completed": true})
		if fmt.Sprint(corrected["hours"]) != "2" || corrected["module_completed"] != true || corrected["assessment_score"] != nil {
			t.Errorf("attendance corrected: %v", corrected)
		}
		if failed := c.call(200, admin, "POST", sessURL(basicsID, "/attendance"), map[string]any{"client_id": luisID,
			"status": "late", "hours": 1, "module_completed": true, "assessment_score": 50, "pass_mark": 70}); failed["module_completed"] != false {
			t.Errorf("a module with a score under the pass mark: %v", failed)
		}
		for _, tc := range []struct {
			in    map[string]any
			field string
		}{
			{map[string]any{"client_id": rosaID, "status": "present", "hours": 2.5}, "hours"}, // longer than the session
			{map[string]any{"client_id": rosaID, "status": "absent", "hours": 1}, "hours"},
			{map[string]any{"client_id": benID, "status": "present"}, "client_id"}, // withdrawn
		} {
			refused = c.call(422, co, "POST", sessURL(basicsID, "/attendance"), tc.in)
			if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); fields[tc.field] == nil {
				t.Errorf("attendance %v: the error does not name %s: %v", tc.in, tc.field, refused)
			}
		}
		c.bad(422, co, "POST", sessURL(basicsID, "/attendance"), map[string]any{"client_id": rosaID, "status": "excused"})
		c.bad(422, co, "POST", sessURL(basicsID, "/attendance"), map[string]any{"client_id": rosaID, "status": "present", "assessment_score": 101})
		c.bad(400, co, "POST", sessURL(basicsID, "/attendance"), "not JSON")
		c.call(403, sw, "POST", sessURL(basicsID, "/attendance"), attend)
		c.call(404, co, "POST", sessURL(999999, "/attendance"), attend)

		// The training record, and a rule that looks at it.
		record := c.call(200, sw, "GET", path("/api/v1/clients/%d/training", rosaID), nil)
		if fmt.Sprint(record["total_hours"]) != "2" || fmt.Sprint(record["completed_modules"]) != "[device_basics]" ||
			len(docList(record["sessions"])) != 1 || docInt(record["client_id"]) != rosaID {
			t.Errorf("a training record: %v", record)
		}
		if record := c.call(200, co, "GET", path("/api/v1/clients/%d/training", benID), nil); len(docList(record["sessions"])) != 2 ||
			fmt.Sprint(record["total_hours"]) != "0" || len(docList(record["completed_modules"])) != 0 {
			t.Errorf("the training record of a client withdrawn from one session, in a cancelled other: %v", record)
		}
		c.call(404, sw2, "GET", path("/api/v1/clients/%d/training", rosaID), nil)
		c.call(404, co, "GET", "/api/v1/clients/999999/training", nil)
		c.call(403, funder, "GET", path("/api/v1/clients/%d/training", rosaID), nil)

		// A certificate of completion: a PDF file, not JSON.
		certURL := func(id int64, module string) string {
			return path("/api/v1/clients/%d/training/certificates/", id) + module
		}
		cert := c.send(true, 200, sw, "GET", certURL(rosaID, "device_basics"), nil)
		if got := cert.Header.Get("Content-Disposition"); got != `attachment; filename="certificate-device_basics.pdf"` {
			t.Errorf("a certificate's Content-Disposition: %q", got)
		}
		if got := cert.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("a certificate's Cache-Control: %q", got)
		}
		if cert.value != nil {
			t.Errorf("a certificate was read as JSON: %v", cert.value)
		}
		c.call(404, sw, "GET", certURL(rosaID, "email"), nil)          // never took it
		c.call(404, sw, "GET", certURL(luisID, "device_basics"), nil)  // attended, but under the pass mark
		c.call(404, sw2, "GET", certURL(rosaID, "device_basics"), nil) // another worker's client
		c.call(404, co, "GET", certURL(999999, "device_basics"), nil)
		c.call(403, funder, "GET", certURL(rosaID, "device_basics"), nil)
		c.call(401, "", "GET", certURL(rosaID, "device_basics"), nil)
		trained := map[string]any{"name": "Trained first", "region": "48", "rules": map[string]any{"all_of": []any{
			map[string]any{"kind": "training", "hours": 1.5, "months": 6},
			map[string]any{"name": "basics", "kind": "training", "modules": []any{"device_basics"}}}}}
		c.call(200, admin, "PUT", "/api/v1/eligibility/rules", trained)
		if d := c.call(200, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": rosaID, "device_kind": "laptop"}); d["outcome"] != "eligible" {
			t.Errorf("a client with 2 hours and the module, under training rules: %v", d)
		}
		if d := c.call(200, sw, "POST", "/api/v1/eligibility/check", map[string]any{"client_id": luisID, "device_kind": "laptop"}); d["outcome"] != "ineligible" {
			t.Errorf("a client with 1 hour and no module, under training rules: %v", d)
		}
		e.clock.Set(testNow)

		// Reminders. A body over the limit is tried on a server on the same
		// services with a small limit and SMS set up (for the webhook
		// below): a body of a mebibyte may reset the connection before
		// the answer is read.
		hook := testSMSWebhook
		small := c.on(e.with(web.Config{SMSWebhook: &hook, BodyLimit: 1024}))
		tooLarge := strings.Repeat(" ", 2000) + "{}"

		// Remind now: at once, by text, in Rosa's language.
		remindLoan := docInt(c.call(201, co, "POST", "/api/v1/loans", map[string]any{"client_id": rosaID,
			"device_id": e.device(co, "phone"), "due_on": "2026-04-10", "walk_in_justification": walkIn})["id"])
		remindAt := path("/api/v1/loans/%d/reminders", remindLoan)
		note := map[string]any{"note": "Traiga también el cargador."}
		sent := c.send(true, 201, co, "POST", remindAt, note, "Idempotency-Key", "remind-rosa")
		reminder := sent.object()
		if reminder["status"] != "sent" || reminder["recipient"] != "client" || reminder["channel"] != "sms" ||
			reminder["language"] != "es" || docInt(reminder["loan_id"]) != remindLoan || docInt(reminder["client_id"]) != rosaID ||
			!strings.Contains(fmt.Sprint(reminder["body"]), "Traiga también el cargador.") {
			t.Errorf("a reminder sent now: %v", reminder)
		}
		reminderAt := sent.Header.Get("Location")
		if got := c.call(200, co, "GET", reminderAt, nil); docInt(got["id"]) != docInt(reminder["id"]) || got["body"] != reminder["body"] {
			t.Errorf("the reminder, read at its Location %s: %v", reminderAt, got)
		}
		if got := c.call(200, sw, "GET", reminderAt, nil); got["body"] != reminder["body"] {
			t.Errorf("Rosa's social worker reads the reminder: %v", got)
		}
		c.call(404, sw2, "GET", reminderAt, nil)
		c.call(404, co, "GET", "/api/v1/notifications/999999", nil)
		c.call(403, funder, "GET", reminderAt, nil)
		c.call(401, "", "GET", reminderAt, nil)
		if again := c.send(true, 201, co, "POST", remindAt, note, "Idempotency-Key", "remind-rosa"); again.Header.Get("Idempotent-Replayed") != "true" ||
			docInt(again.object()["id"]) != docInt(reminder["id"]) {
			t.Errorf("a replayed reminder: %s %v", again.Header.Get("Idempotent-Replayed"), again.object())
		}
		c.call(201, admin, "POST", remindAt, nil) // no body: the standard message
		c.call(201, co, "POST", remindAt, map[string]any{})
		e.clock.Set(time.Date(2026, 3, 10, 22, 0, 0, 0, time.UTC)) // quiet hours, 21:00 to 08:00 (UTC here)
		if quiet := c.call(201, co, "POST", remindAt, nil); quiet["status"] != "pending" || quiet["body"] != nil || quiet["sent_at"] != nil {
			t.Errorf("a reminder in quiet hours: %v", quiet)
		}
		e.clock.Set(testNow)
		c.call(422, co, "POST", remindAt, map[string]any{"note": "Otra nota."}, "Idempotency-Key", "remind-rosa")
		c.bad(422, co, "POST", remindAt, map[string]any{"note": strings.Repeat("a", 161)})
		c.bad(422, co, "POST", remindAt, map[string]any{"note": "hola", "urgent": true})
		c.bad(400, co, "POST", remindAt, "not JSON")
		small.bad(413, co, "POST", remindAt, tooLarge)
		c.bad(415, co, "POST", remindAt, `{"note": "hola"}`, "Content-Type", "application/x-www-form-urlencoded")
		c.bad(415, co, "POST", remindAt, map[string]any{}, "Content-Encoding", "gzip")
		c.call(401, "", "POST", remindAt, nil)
		c.call(403, sw, "POST", remindAt, nil)
		c.call(403, funder, "POST", remindAt, nil)
		c.call(404, co, "POST", "/api/v1/loans/999999/reminders", nil)
		c.call(409, co, "POST", path("/api/v1/loans/%d/reminders", loanID), nil) // returned
		// One manual reminder per loan in ten minutes (the default; the
		// scenario's own server has no limit): the second is a 429.
		limited := c.on(newEnvWith(t, e.db, app.Options{}))
		windowed := path("/api/v1/loans/%d/reminders", docInt(c.call(201, co, "POST", "/api/v1/loans",
			map[string]any{"client_id": rosaID, "device_id": e.device(co, "tablet"), "due_on": "2026-04-10", "walk_in_justification": walkIn})["id"]))
		limited.call(201, co, "POST", windowed, nil)
		if r := limited.send(true, 429, co, "POST", windowed, nil); r.Header.Get("Retry-After") != "600" {
			t.Errorf("a second reminder within the window: Retry-After %q, want 600", r.Header.Get("Retry-After"))
		}

		// The outbox: a social worker sees their own clients' reminders.
		outbox := c.call(200, co, "GET", path("/api/v1/notifications?loan_id=%d&client_id=%d&status=sent&kind=manual&limit=10&offset=0",
			remindLoan, rosaID), nil)
		if got := docPageItems(outbox); len(got) != 3 || docInt(got[2]["id"]) != docInt(reminder["id"]) || got[2]["body"] != reminder["body"] {
			t.Errorf("the sent reminders of the loan, newest first: %v", outbox)
		}
		if waiting := c.call(200, sw, "GET", "/api/v1/notifications?status=pending&kind=manual", nil); docInt(waiting["total"]) != 1 {
			t.Errorf("the social worker's waiting reminders: %v", waiting)
		}
		if none := c.call(200, sw2, "GET", "/api/v1/notifications", nil); docInt(none["total"]) != 0 {
			t.Errorf("another social worker sees reminders about clients not theirs: %v", none)
		}
		refused = c.bad(422, co, "GET", "/api/v1/notifications?status=delivered&kind=sms&loan_id=0", nil)
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); len(fields) != 3 {
			t.Errorf("a notification list with a bad status, kind and loan_id: %v", refused)
		}
		c.call(403, funder, "GET", "/api/v1/notifications", nil)
		c.call(401, "", "GET", "/api/v1/notifications", nil)

		// The reminder policy.
		policy := c.call(200, sw, "GET", "/api/v1/notifications/policy", nil)
		if fmt.Sprint(policy["due_soon_days"]) != "[3 1]" || fmt.Sprint(policy["quiet_hours"]) != "map[end:08:00 start:21:00]" {
			t.Errorf("the default reminder policy: %v", policy)
		}
		c.call(403, funder, "GET", "/api/v1/notifications/policy", nil)
		c.call(401, "", "GET", "/api/v1/notifications/policy", nil)
		later := maps.Clone(policy)
		later["due_soon_days"], later["quiet_hours"] = []any{1, 2}, map[string]any{"start": "22:00", "end": "07:00"}
		stored := c.call(200, admin, "PUT", "/api/v1/notifications/policy", later, "Idempotency-Key", "policy-late")
		if fmt.Sprint(stored["due_soon_days"]) != "[2 1]" {
			t.Errorf("a replaced policy, its days largest first: %v", stored)
		}
		if again := c.send(true, 200, admin, "PUT", "/api/v1/notifications/policy", later, "Idempotency-Key", "policy-late"); again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a replayed policy: %v", again.Header)
		}
		c.call(422, admin, "PUT", "/api/v1/notifications/policy", policy, "Idempotency-Key", "policy-late")
		slow, err := json.Marshal(policy)
		if err != nil {
			t.Fatal(err)
		}
		if claim, prev, err := e.svc.Idempotency.Begin(context.Background(), idempotency.Request{UserID: adminID, Key: "policy-slow",
			Method: "PUT", Path: "/api/v1/notifications/policy", Body: slow}); err != nil || claim == nil || prev != nil {
			t.Fatalf("claim an Idempotency-Key: %v %v", prev, err)
		}
		c.call(409, admin, "PUT", "/api/v1/notifications/policy", string(slow), "Idempotency-Key", "policy-slow")
		badPolicy := maps.Clone(policy)
		badPolicy["overdue"], badPolicy["catch_up_days"] = []any{map[string]any{"days": 0, "notify": []any{"client"}}}, 9
		refused = c.bad(422, admin, "PUT", "/api/v1/notifications/policy", badPolicy)
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); len(fields) != 2 || fields["overdue[0]"] == nil || fields["catch_up_days"] == nil {
			t.Errorf("a policy with a step of 0 days and 9 catch-up days: %v", refused)
		}
		c.bad(422, admin, "PUT", "/api/v1/notifications/policy", map[string]any{"due_soon_days": []any{3}})
		c.bad(400, admin, "PUT", "/api/v1/notifications/policy", "[]")
		small.bad(413, admin, "PUT", "/api/v1/notifications/policy", tooLarge)
		c.bad(415, admin, "PUT", "/api/v1/notifications/policy", "{}", "Content-Type", "application/json; charset=latin1")
		c.bad(415, admin, "PUT", "/api/v1/notifications/policy", policy, "Content-Encoding", "gzip")
		c.call(403, co, "PUT", "/api/v1/notifications/policy", policy)
		c.call(403, sw, "PUT", "/api/v1/notifications/policy", policy)

		// The retention policy: admins only.
		keep := c.call(200, admin, "GET", "/api/v1/retention/policy", nil)
		if docInt(keep["inactive_client_years"]) != 7 || docInt(keep["notification_texts_days"]) != 90 {
			t.Errorf("the default retention policy: %v", keep)
		}
		c.call(403, co, "GET", "/api/v1/retention/policy", nil)
		c.call(401, "", "GET", "/api/v1/retention/policy", nil)
		shorter := maps.Clone(keep)
		shorter["inactive_client_years"] = 6
		if got := c.call(200, admin, "PUT", "/api/v1/retention/policy", shorter, "Idempotency-Key", "keep-6"); docInt(got["inactive_client_years"]) != 6 {
			t.Errorf("a replaced retention policy: %v", got)
		}
		if again := c.send(true, 200, admin, "PUT", "/api/v1/retention/policy", shorter, "Idempotency-Key", "keep-6"); again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a replayed retention policy: %v", again.Header)
		}
		refused = c.bad(422, admin, "PUT", "/api/v1/retention/policy", map[string]any{"notification_texts_days": 0, "sms_replies_days": 90,
			"ended_sessions_days": 400})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); len(fields) != 3 || fields["inactive_client_years"] == nil {
			t.Errorf("a retention policy with three bad settings: %v", refused)
		}
		if got := c.call(200, admin, "GET", "/api/v1/retention/policy", nil); docInt(got["inactive_client_years"]) != 6 || docInt(got["ended_sessions_days"]) != 1 {
			t.Errorf("the retention policy after a refused change: %v", got)
		}
		c.bad(400, admin, "PUT", "/api/v1/retention/policy", "[]")
		c.bad(415, admin, "PUT", "/api/v1/retention/policy", "{}", "Content-Type", "text/plain")
		small.bad(413, admin, "PUT", "/api/v1/retention/policy", tooLarge)
		c.call(403, sw, "PUT", "/api/v1/retention/policy", keep)
		c.call(401, "", "PUT", "/api/v1/retention/policy", keep)
		slowKeep, err := json.Marshal(keep)
		if err != nil {
			t.Fatal(err)
		}
		if claim, prev, err := e.svc.Idempotency.Begin(context.Background(), idempotency.Request{UserID: adminID, Key: "keep-slow",
			Method: "PUT", Path: "/api/v1/retention/policy", Body: slowKeep}); err != nil || claim == nil || prev != nil {
			t.Fatalf("claim an Idempotency-Key: %v %v", prev, err)
		}
		c.call(409, admin, "PUT", "/api/v1/retention/policy", string(slowKeep), "Idempotency-Key", "keep-slow")

		// Erasure: admins only; refused while something is open.
		erin := c.call(201, admin, "POST", "/api/v1/clients", map[string]any{"case_number": "2026-0099", "first_name": "Erin",
			"last_name": "Vale", "email": "erin@example.org", "preferred_channel": "email", "household_size": 2, "caseworker_id": swID})
		erinID := docInt(erin["id"])
		c.call(403, sw, "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": "asked"})
		c.call(401, "", "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": "asked"})
		c.call(422, admin, "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": " "})
		c.bad(400, admin, "POST", path("/api/v1/clients/%d/erase", erinID), "[]")
		c.bad(415, admin, "POST", path("/api/v1/clients/%d/erase", erinID), "{}", "Content-Type", "text/plain")
		small.bad(413, admin, "POST", path("/api/v1/clients/%d/erase", erinID), tooLarge)
		c.call(409, admin, "POST", path("/api/v1/clients/%d/erase", rosaID), map[string]any{"reason": "the client asked"})
		c.call(204, admin, "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": "the client asked"}, "Idempotency-Key", "erase-erin")
		if again := c.send(true, 204, admin, "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": "the client asked"},
			"Idempotency-Key", "erase-erin"); again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a replayed erasure: %v", again.Header)
		}
		c.call(404, admin, "GET", path("/api/v1/clients/%d", erinID), nil)
		c.call(404, admin, "POST", path("/api/v1/clients/%d/erase", erinID), map[string]any{"reason": "again"})
		c.call(401, "", "PUT", "/api/v1/notifications/policy", policy)
		if now := c.call(200, co, "GET", "/api/v1/notifications/policy", nil); fmt.Sprint(now["due_soon_days"]) != "[2 1]" {
			t.Errorf("the policy after refused changes: %v", now)
		}

		// The SMS provider's webhook: Rosa (+1 312 555 0123) replies STOP,
		// then START, to the server with SMS set up.
		sms := small
		const form = "application/x-www-form-urlencoded"
		signed := func(v url.Values) string { return twilioSignature(hook.AuthToken, hook.URL, v) }
		stop, start := smsReply("+13125550123", "STOP"), smsReply("+13125550123", "Start")
		c.call(404, "", "POST", "/api/v1/sms/inbound", stop.Encode(), "Content-Type", form, "X-Twilio-Signature", signed(stop))
		twiml := sms.send(true, 200, "", "POST", "/api/v1/sms/inbound", stop.Encode(), "Content-Type", form, "X-Twilio-Signature", signed(stop))
		if twiml.value != nil || !strings.Contains(string(twiml.Body), "<Response></Response>") {
			t.Errorf("the webhook's answer: %s", twiml.Body)
		}
		if got := c.call(200, sw, "GET", path("/api/v1/clients/%d", rosaID), nil); got["sms_opted_out"] != true {
			t.Errorf("Rosa after replying STOP: %v", got)
		}
		sms.call(200, "", "POST", "/api/v1/sms/inbound", start.Encode(), "Content-Type", form, "X-Twilio-Signature", signed(start))
		if got := c.call(200, sw, "GET", path("/api/v1/clients/%d", rosaID), nil); got["sms_opted_out"] != false {
			t.Errorf("Rosa after replying START: %v", got)
		}
		sms.call(403, "", "POST", "/api/v1/sms/inbound", stop.Encode(), "Content-Type", form, "X-Twilio-Signature", signed(start))
		sms.bad(403, "", "POST", "/api/v1/sms/inbound", stop.Encode(), "Content-Type", form)
		sms.bad(422, "", "POST", "/api/v1/sms/inbound", "From=%zz", "Content-Type", form, "X-Twilio-Signature", signed(stop))
		sms.bad(413, "", "POST", "/api/v1/sms/inbound", "Body="+tooLarge, "Content-Type", form, "X-Twilio-Signature", signed(stop))
		sms.bad(415, "", "POST", "/api/v1/sms/inbound", stop.Encode(), "Content-Type", form, "X-Twilio-Signature", signed(stop), "Content-Encoding", "gzip")
		if got := c.call(200, sw, "GET", path("/api/v1/clients/%d", rosaID), nil); got["sms_opted_out"] != false {
			t.Errorf("Rosa after refused webhook requests: %v", got)
		}

		// The agreement's terms: shipped, falling back, saved as versions.
		const terms = "/api/v1/agreement/terms"
		if got := c.call(200, co, "GET", terms+"?language=es", nil); got["version"] != json.Number("1") || got["language"] != "es" {
			t.Errorf("the shipped es terms: %v", got)
		}
		if got := c.call(200, co, "GET", terms+"?language=de", nil); got["language"] != "en" || got["requested_language"] != "de" {
			t.Errorf("terms in a language with none: %v", got)
		}
		c.bad(422, co, "GET", terms+"?language=zz", nil)
		c.call(403, sw, "GET", terms, nil)
		c.call(401, "", "GET", terms, nil)
		newTerms := map[string]any{"body": "The device stays the agency's.\n\nReturn it by the due date."}
		saved := c.call(201, admin, "PUT", terms+"?language=es", newTerms, "Idempotency-Key", "terms-es")
		if saved["version"] != json.Number("2") {
			t.Errorf("saved terms: %v", saved)
		}
		if again := c.send(true, 201, admin, "PUT", terms+"?language=es", newTerms, "Idempotency-Key", "terms-es"); again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replayed terms: %v", again.Header)
		}
		slowTerms, err := json.Marshal(newTerms)
		if err != nil {
			t.Fatal(err)
		}
		if claim, prev, err := e.svc.Idempotency.Begin(context.Background(), idempotency.Request{UserID: adminID, Key: "terms-slow",
			Method: "PUT", Path: terms + "?language=fr", Body: slowTerms}); err != nil || claim == nil || prev != nil {
			t.Fatalf("claim an Idempotency-Key: %v %v", prev, err)
		}
		c.call(409, admin, "PUT", terms+"?language=fr", string(slowTerms), "Idempotency-Key", "terms-slow")
		refused = c.bad(422, admin, "PUT", terms+"?language=zz", map[string]any{"body": "\a"})
		if fields, _ := refused["error"].(map[string]any)["fields"].(map[string]any); len(fields) != 2 {
			t.Errorf("terms with a control character in an unknown language: %v", refused)
		}
		c.bad(400, admin, "PUT", terms, "[]")
		small.bad(413, admin, "PUT", terms, tooLarge)
		c.bad(415, admin, "PUT", terms, newTerms, "Content-Encoding", "gzip")
		c.call(403, co, "PUT", terms, newTerms)
		c.call(401, "", "PUT", terms, newTerms)
		if old := c.call(200, co, "GET", terms+"/versions/es/1", nil); old["created_by"] != nil {
			t.Errorf("shipped es terms: %v", old)
		}
		c.call(404, co, "GET", terms+"/versions/es/3", nil)
		c.bad(422, co, "GET", terms+"/versions/zz/1", nil)
		c.call(403, sw, "GET", terms+"/versions/es/1", nil)
		c.call(401, "", "GET", terms+"/versions/es/1", nil)
		c.answeredEvery("GET "+terms, "PUT "+terms, "GET "+terms+"/versions/{language}/{version}")

		// A loan's agreement: printed, signed once, the record read back.
		agLoan := e.loan(co, e.referred(sw), e.device(co, "laptop"))
		agPDF, agRecord, agSign := path("/api/v1/loans/%d/agreement.pdf", agLoan), path("/api/v1/loans/%d/agreement", agLoan),
			path("/api/v1/loans/%d/agreement/acceptance", agLoan)
		c.send(true, 200, sw, "GET", agPDF+"?language=fr", nil)
		c.bad(422, co, "GET", agPDF+"?language=zz", nil)
		c.call(404, co, "GET", path("/api/v1/loans/%d/agreement.pdf", 999999), nil)
		c.call(403, funder, "GET", agPDF, nil)
		c.call(401, "", "GET", agPDF, nil)
		c.call(404, sw, "GET", agRecord, nil)
		c.bad(422, co, "POST", agSign, map[string]any{"method": "fingerprint"})
		c.bad(400, co, "POST", agSign, "[]")
		small.bad(413, co, "POST", agSign, tooLarge)
		c.bad(415, co, "POST", agSign, map[string]any{"method": "paper"}, "Content-Encoding", "gzip")
		c.call(403, funder, "POST", agSign, map[string]any{"method": "paper"})
		c.call(401, "", "POST", agSign, map[string]any{"method": "paper"})
		c.call(404, co, "POST", path("/api/v1/loans/%d/agreement/acceptance", 999999), map[string]any{"method": "paper"})
		if got := c.call(201, sw, "POST", agSign, map[string]any{"method": "typed", "typed_name": "Ana Client"}, "Idempotency-Key", "sign-doc"); got["method"] != "typed" {
			t.Errorf("the signing: %v", got)
		}
		c.call(409, co, "POST", agSign, map[string]any{"method": "paper"})
		c.call(200, co, "GET", agRecord, nil)
		c.send(true, 200, co, "GET", agPDF, nil)
		c.call(403, funder, "GET", agRecord, nil)
		c.call(401, "", "GET", agRecord, nil)
		if got := docPageItems(c.call(200, co, "GET", "/api/v1/loans?agreement=signed", nil)); len(got) != 1 || docInt(got[0]["id"]) != agLoan {
			t.Errorf("signed loans: %v", got)
		}
		c.bad(422, co, "GET", "/api/v1/loans?agreement=maybe", nil)
		c.call(200, co, "GET", "/api/v1/loans?due=week", nil)
		c.bad(422, co, "GET", "/api/v1/loans?due=month", nil)
		// The utilization report.
		const utilization = "/api/v1/reports/utilization?from=2026-01-01&to=2026-03-31"
		if got := c.call(200, co, "GET", utilization+"&format=json&kind=laptop&postal_prefix=606", nil); got["use"] == nil {
			t.Errorf("the report: %v", got)
		}
		c.call(200, funder, "GET", utilization, nil)
		c.send(true, 200, co, "GET", utilization+"&format=csv", nil)
		c.call(200, funder, "GET", path(utilization+"&funding_source_id=%d", docInt(grant["id"])), nil)
		c.bad(422, funder, "GET", path(utilization+"&funding_source_id=%d", docInt(state["id"])), nil)
		c.send(true, 200, co, "GET", utilization+"&format=pdf", nil)
		c.call(403, sw, "GET", utilization, nil)
		c.call(401, "", "GET", utilization, nil)
		c.bad(422, co, "GET", "/api/v1/reports/utilization?from=2026-03-31&to=2026-01-01&format=xml", nil)
		c.answeredEvery("GET /api/v1/reports/utilization")
		const records = "/api/v1/reports/devices.csv?from=2026-01-01&to=2026-03-31"
		c.send(true, 200, co, "GET", path(records+"&funding_source_id=%d&kind=hotspot", docInt(grant["id"])), nil)
		c.send(true, 200, admin, "GET", records, nil)
		c.call(403, funder, "GET", records, nil)
		c.call(401, "", "GET", records, nil)
		c.bad(422, co, "GET", "/api/v1/reports/devices.csv?from=2026-01-01", nil)
		c.answeredEvery("GET /api/v1/reports/devices.csv")
		c.answeredEvery("GET /api/v1/loans/{id}/agreement.pdf", "GET /api/v1/loans/{id}/agreement", "POST /api/v1/loans/{id}/agreement/acceptance")

		c.answeredEvery("GET /api/v1/notifications", "GET /api/v1/notifications/policy", "PUT /api/v1/notifications/policy",
			"POST /api/v1/loans/{id}/reminders", "POST /api/v1/sms/inbound")
		c.answeredEvery("GET /api/v1/retention/policy", "PUT /api/v1/retention/policy", "POST /api/v1/clients/{id}/erase")
		c.covered(400, 401, 403, 404, 409, 415, 422)
	})
}

// TestOpenAPILimitErrorsMatchDocument checks the answers that need a server
// set up with small limits, or a database that has gone away.
func TestOpenAPILimitErrorsMatchDocument(t *testing.T) {
	dbtest.Each(t, checkLimitErrors)
}

func checkLimitErrors(t *testing.T, db *storage.DB) {
	doc := loadOpenAPIDoc(t)
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db)})
	srv := web.New(svc, web.Config{Logger: openAPITestLogger(), BodyLimit: 256, SignInPerMinute: 2})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App().Listener(ln)
	t.Cleanup(func() { srv.App().ShutdownWithTimeout(5 * time.Second) })
	e := &env{t: t, db: db, svc: svc, base: "http://" + ln.Addr().String(), httpc: &http.Client{Timeout: 30 * time.Second}}
	c := newDocChecker(t, e, doc)

	c.bad(413, "", "POST", "/api/v1/auth/token", strings.Repeat(" ", 300)+"{}")
	signIn := map[string]any{"email": "nobody@agency.test", "password": "not a password"}
	c.call(401, "", "POST", "/api/v1/auth/token", signIn)
	c.call(401, "", "POST", "/api/v1/auth/token", signIn)
	c.call(429, "", "POST", "/api/v1/auth/token", signIn)

	c.call(200, "", "GET", "/healthz", nil)
	db.Close()
	if h := c.call(503, "", "GET", "/healthz", nil); h["status"] != "database unreachable" {
		t.Errorf("health with the database closed: %v", h)
	}
}

// TestOpenAPIInputLimitsMatchServer sends every limit the document gives
// for a request field (maxLength, minLength, maximum, minimum, maxItems,
// minItems), and for a field of each kind of eligibility rule, to
// the server, at the limit and just past it: at the limit the field must
// not be refused, past it the answer must be a 422 naming the field.
func TestOpenAPIInputLimitsMatchServer(t *testing.T) {
	eachEnv(t, checkInputLimits)
}

func checkInputLimits(t *testing.T, e *env) {
	doc := loadOpenAPIDoc(t)
	_, admin := e.user(accounts.Admin)
	_, co := e.user(accounts.Coordinator)
	_, sw := e.user(accounts.SocialWorker)
	_, signerToken := e.user(accounts.Funder)
	signer := e.must(200, signerToken, "GET", "/api/v1/me", nil).JSON(t)["email"]
	target := e.must(201, admin, "POST", "/api/v1/users", map[string]any{"email": "target@agency.test",
		"name": "Target", "role": "coordinator", "password": "a long passphrase"}).ID(t)
	device := e.device(co, "laptop")
	plan := e.must(201, co, "POST", "/api/v1/data-plans", map[string]any{"carrier": "Mint",
		"line_number": "+1 312 555 0000", "starts_on": "2026-01-01"}).ID(t)
	fund := e.fundingSource(admin, "Limits fund")
	client := e.referred(sw)
	loan := e.loan(co, client, e.device(co, "phone"))
	session := func(startsAt string) int64 {
		start, err := time.Parse(time.RFC3339, startsAt)
		if err != nil {
			t.Fatal(err)
		}
		return e.must(201, co, "POST", "/api/v1/training/sessions", map[string]any{"title": "Limits", "topic": "limits",
			"starts_at": startsAt, "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339), "capacity": 5}).ID(t)
	}
	future := session("2026-06-01T15:00:00Z")
	// Attendance is recorded once a session has started: enroll, then
	// move the clock past the start (the same day in the agency's zone).
	started := session("2026-03-10T16:00:00Z")
	e.must(201, sw, "POST", path("/api/v1/training/sessions/%d/enrollments", started), map[string]any{"client_id": client})
	remindLoan := e.loan(co, client, e.device(co, "tablet"))
	policy := func() map[string]any { return e.must(200, admin, "GET", "/api/v1/notifications/policy", nil).JSON(t) }

	var n int
	unique := func() int { n++; return n }
	// The requests to send for each operation whose body has limits: who
	// sends it, where, and a body that is valid without the field tested.
	fixtures := map[string]struct {
		token, target string
		base          func() map[string]any
		// next, when set, gives a fresh target for each request (a device
		// request in a status the action allows), in place of target.
		next func() string
	}{
		// Signing in with a new password changes it (and revokes the
		// user's other tokens), so it is tried as a user of its own; the
		// password rules are checked before the password.
		"POST /api/v1/auth/token": {"", "/api/v1/auth/token", func() map[string]any {
			return map[string]any{"email": signer, "password": "correct horse battery"}
		}, nil},
		// A wrong current password: the new one is checked all the same,
		// and nothing changes.
		"POST /api/v1/me/password": {sw, "/api/v1/me/password", func() map[string]any {
			return map[string]any{"current_password": "not the current one"}
		}, nil},
		"POST /api/v1/tokens": {sw, "/api/v1/tokens", func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/users": {admin, "/api/v1/users", func() map[string]any {
			return map[string]any{"email": fmt.Sprintf("limits%d@agency.test", unique()), "name": "Limits",
				"role": "funder", "password": "a long passphrase"}
		}, nil},
		"PATCH /api/v1/users/{id}": {admin, path("/api/v1/users/%d", target), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/devices": {co, "/api/v1/devices", func() map[string]any {
			return map[string]any{"kind": "tablet", "make": "Acme", "model": "Tab"}
		}, nil},
		"PATCH /api/v1/devices/{id}": {co, path("/api/v1/devices/%d", device), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/devices/{id}/inspection": {co, path("/api/v1/devices/%d/inspection", device), func() map[string]any {
			return map[string]any{"wiped": true, "outcome": "ready"}
		}, nil},
		"POST /api/v1/data-plans": {co, "/api/v1/data-plans", func() map[string]any {
			return map[string]any{"carrier": "Mint", "line_number": fmt.Sprintf("+1 773 555 %04d", unique()), "starts_on": "2026-01-01"}
		}, nil},
		"PATCH /api/v1/data-plans/{id}": {co, path("/api/v1/data-plans/%d", plan), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/funding-sources": {admin, "/api/v1/funding-sources", func() map[string]any {
			return map[string]any{"name": fmt.Sprintf("Limits fund %d", unique())}
		}, nil},
		"PATCH /api/v1/funding-sources/{id}": {admin, path("/api/v1/funding-sources/%d", fund), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/clients": {sw, "/api/v1/clients", func() map[string]any {
			return map[string]any{"case_number": fmt.Sprintf("LIM-%d", unique()), "first_name": "Ana", "last_name": "Ruiz",
				"preferred_channel": "none", "household_size": 2}
		}, nil},
		"PATCH /api/v1/clients/{id}": {sw, path("/api/v1/clients/%d", client), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/loans": {co, "/api/v1/loans", func() map[string]any {
			// A new client each time: a client has one open loan of a kind.
			return map[string]any{"client_id": e.client(sw), "device_id": e.device(co, "hotspot"), "due_on": "2026-04-10", "walk_in_justification": walkIn}
		}, nil},
		"POST /api/v1/loans/{id}/return": {co, path("/api/v1/loans/%d/return", loan), func() map[string]any {
			return map[string]any{"condition": "good"}
		}, nil},
		"POST /api/v1/loans/{id}/lost": {co, path("/api/v1/loans/%d/lost", loan), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/eligibility/check": {sw, "/api/v1/eligibility/check", func() map[string]any {
			return map[string]any{"client_id": client, "device_kind": "laptop"}
		}, nil},
		"POST /api/v1/eligibility/guidelines": {admin, "/api/v1/eligibility/guidelines", func() map[string]any {
			return map[string]any{"id": fmt.Sprintf("limits-%d", unique()), "region": "XX", "year": 2026,
				"source": "a test", "amounts_cents": []any{1000000}, "each_additional_cents": 100000}
		}, nil},
		"POST /api/v1/requests": {sw, "/api/v1/requests", func() map[string]any {
			return map[string]any{"client_id": e.client(sw), "device_kind": "laptop"}
		}, nil},
		// Under the rules that ship, an income well under the limit is
		// eligible (the request is waitlisted or ready, which may be
		// denied), and one far over it is denied (which may be overridden).
		"POST /api/v1/training/sessions": {co, "/api/v1/training/sessions", func() map[string]any {
			return map[string]any{"title": "Limits", "topic": "limits", "starts_at": "2026-05-01T15:00:00Z",
				"ends_at": "2026-05-01T17:00:00Z", "capacity": 10}
		}, nil},
		"PATCH /api/v1/training/sessions/{id}": {co, path("/api/v1/training/sessions/%d", future), func() map[string]any { return map[string]any{} }, nil},
		"POST /api/v1/training/sessions/{id}/enrollments": {sw, path("/api/v1/training/sessions/%d/enrollments", future), func() map[string]any {
			return map[string]any{}
		}, nil},
		"POST /api/v1/training/sessions/{id}/attendance": {co, path("/api/v1/training/sessions/%d/attendance", started), func() map[string]any {
			return map[string]any{"client_id": client, "status": "present"}
		}, nil},
		"POST /api/v1/requests/{id}/deny": {co, "", func() map[string]any { return map[string]any{} }, func() string {
			return path("/api/v1/requests/%d/deny", docFileRequest(e, sw, 1000000, "waitlisted", "ready"))
		}},
		"POST /api/v1/requests/{id}/override": {co, "", func() map[string]any { return map[string]any{} }, func() string {
			return path("/api/v1/requests/%d/override", docFileRequest(e, sw, 90000000, "denied"))
		}},
		"POST /api/v1/loans/{id}/reminders": {co, path("/api/v1/loans/%d/reminders", remindLoan), func() map[string]any {
			return map[string]any{}
		}, nil},
		"PUT /api/v1/notifications/policy": {admin, "/api/v1/notifications/policy", policy, nil},
		"PUT /api/v1/retention/policy": {admin, "/api/v1/retention/policy", func() map[string]any {
			return map[string]any{"notification_texts_days": 90, "sms_replies_days": 90, "ended_sessions_days": 1, "inactive_client_years": 7}
		}, nil},
		// Each erasure erases a new client.
		"POST /api/v1/clients/{id}/erase": {admin, "", func() map[string]any { return map[string]any{} }, func() string {
			return path("/api/v1/clients/%d/erase", e.client(sw))
		}},
		// One signing per loan: each request signs a new loan.
		"POST /api/v1/loans/{id}/agreement/acceptance": {co, "", func() map[string]any {
			return map[string]any{"method": "typed", "typed_name": "Ana Ruiz"}
		}, func() string {
			return path("/api/v1/loans/%d/agreement/acceptance", e.loan(co, e.referred(sw), e.device(co, "phone")))
		}},
		"PUT /api/v1/agreement/terms": {admin, "/api/v1/agreement/terms?language=fr", func() map[string]any {
			return map[string]any{"body": "Return the device."}
		}, nil},
		"PUT /api/v1/eligibility/rules": {admin, "/api/v1/eligibility/rules", func() map[string]any {
			return map[string]any{"name": "Limits", "region": "48", "rules": map[string]any{"kind": "proof_recent", "months": 12}}
		}, nil},
		"POST /api/v1/requests/{id}/approve": {co, "", func() map[string]any { return map[string]any{} }, func() string {
			// Income not disclosed: the request needs review, so it can be approved.
			client := e.situated(sw, map[string]any{"annual_income_cents": nil})
			r := e.must(201, sw, "POST", "/api/v1/requests", map[string]any{"client_id": client, "device_kind": "laptop"}).JSON(e.t)
			if r["status"] != "needs_review" {
				e.t.Fatalf("a request with income not disclosed is %v, want needs_review", r["status"])
			}
			return path("/api/v1/requests/%v/approve", r["id"])
		}},
	}
	// Where the server names a field differently from the request. Known
	// Fields reported under another name than the one sent (none today).
	reportedAs := map[string]string{}
	// Values that must be more than the right length to be valid.
	valid := map[string]func(n int) string{
		// A private-use language tag: en-x-aaaaaaaa-aaaaaaaa-…
		"preferred_language": func(n int) string {
			s := "en-x-"
			for len(s) < n {
				if (len(s)-5)%9 == 8 {
					s += "-"
				} else {
					s += "a"
				}
			}
			return s
		},
	}

	valid["language"] = valid["preferred_language"] // a session's language
	// A password nobody would guess: random letters and digits.
	valid["password"] = func(n int) string {
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		const letters = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	valid["new_password"] = valid["password"]
	// An email address, or a phone number with ten digits and dashes, of n
	// characters, each one new (a line number is unique).
	valid["email"] = func(n int) string {
		s := fmt.Sprintf("x%d", unique())
		return s + strings.Repeat("a", n-len(s)-len("@agency.test")) + "@agency.test"
	}
	valid["phone"] = func(n int) string {
		digits := fmt.Sprint(3125550000 + unique())
		return digits[:1] + strings.Repeat("-", n-len(digits)) + digits[1:]
	}
	valid["line_number"] = valid["phone"]

	// Lists whose items must differ (codes are stored without repeats) or
	// rise (guideline amounts), by field: the i-th item, from 0.
	listItem := map[string]func(i int) any{
		"programs":      func(i int) any { return fmt.Sprintf("code_%d", i) },
		"needs":         func(i int) any { return fmt.Sprintf("code_%d", i) },
		"amounts_cents": func(i int) any { return 1000000 + 100000*i },
		// A reminder policy's days and steps each at most once.
		"due_soon_days":         func(i int) any { return 1 + i },
		"data_plan_ending_days": func(i int) any { return i },
		"overdue":               func(i int) any { return map[string]any{"days": 1 + i, "notify": []any{"client"}} },
	}

	e.clock.Set(testNow.Add(90 * time.Minute)) // the session started has started
	checkedLimits := 0
	for _, o := range doc.operations(t) {
		schema := doc.requestSchema(t, o)
		if schema == nil {
			continue
		}
		props, _ := doc.deref(t, schema)["properties"].(map[string]any)
		var fields []string
		for f := range props {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, field := range fields {
			limits := doc.limits(t, props[field])
			if len(limits) == 0 {
				continue
			}
			fx, ok := fixtures[o.key()]
			if !ok {
				t.Errorf("%s: field %s has limits %v, but the test has no request to check them with; add one", o.key(), field, limits)
				break
			}
			types := doc.schemaTypes(t, props[field])
			named := field
			if alias, ok := reportedAs[o.key()+" "+field]; ok {
				named = alias
			}
			try := func(value any, wantRefused bool, what string) {
				t.Helper()
				body := fx.base()
				body[field] = value
				target := fx.target
				if fx.next != nil {
					target = fx.next()
				}
				r := e.do(fx.token, o.method, target, body)
				refused := r.Status == http.StatusUnprocessableEntity && r.ErrorFields(t)[named] != nil
				if r.Status >= 500 || refused != wantRefused {
					t.Errorf("%s with %s %s: status %d, want the field %s\n%s", o.key(), field, what, r.Status,
						map[bool]string{true: "refused (422)", false: "accepted"}[wantRefused], r.Body)
				}
			}
			for kw, lim := range limits {
				checkedLimits++
				switch {
				case types["string"] && (kw == "maxLength" || kw == "minLength"):
					str := func(n int) string {
						if v, ok := valid[field]; ok {
							return v(n)
						}
						return strings.Repeat("a", n)
					}
					if kw == "maxLength" {
						try(str(int(lim)), false, fmt.Sprintf("of %d characters (maxLength)", lim))
						try(str(int(lim)+1), true, fmt.Sprintf("of %d characters (maxLength %d)", lim+1, lim))
					} else {
						try(str(int(lim)), false, fmt.Sprintf("of %d characters (minLength)", lim))
						try(str(int(lim)-1), true, fmt.Sprintf("of %d characters (minLength %d)", lim-1, lim))
					}
				case types["number"] && kw == "maximum": // an integer is a number too
					try(lim, false, fmt.Sprintf("= %d (maximum)", lim))
					try(lim+1, true, fmt.Sprintf("= %d (maximum %d)", lim+1, lim))
				case types["number"] && kw == "minimum":
					// An id at the minimum may name no record, or one the
					// caller may not use, so for ids only the value below
					// the minimum is tried.
					if !strings.HasSuffix(field, "_id") {
						try(lim, false, fmt.Sprintf("= %d (minimum)", lim))
					}
					try(lim-1, true, fmt.Sprintf("= %d (minimum %d)", lim-1, lim))
				case types["array"] && (kw == "maxItems" || kw == "minItems"):
					item := doc.minimalValue(t, doc.deref(t, props[field])["items"])
					list := func(n int) []any {
						if gen, ok := listItem[field]; ok {
							out := []any{}
							for i := range n {
								out = append(out, gen(i))
							}
							return out
						}
						return slices.Repeat([]any{item}, n)
					}
					if kw == "maxItems" {
						try(list(int(lim)), false, fmt.Sprintf("of %d items (maxItems)", lim))
						try(list(int(lim)+1), true, fmt.Sprintf("of %d items (maxItems %d)", lim+1, lim))
					} else {
						try(list(int(lim)), false, fmt.Sprintf("of %d items (minItems)", lim))
						try(list(int(lim)-1), true, fmt.Sprintf("of %d items (minItems %d)", lim-1, lim))
					}
				default:
					t.Errorf("%s %s: the test does not know how to check %s", o.key(), field, kw)
				}
			}
		}
	}

	// A rule set is checked as a whole: try each limit of each shape of
	// rule in a rule set of that one rule, where the server reports it
	// by its path (rules.all_of[0].months).
	// Fields a rule of a kind needs besides its required ones, so that
	// only the field tried can be wrong: a training rule needs hours (with
	// their months) or modules.
	ruleNeeds := map[string]map[string]any{"training": {"hours": 1, "months": 12}}
	checkedRules := 0
	for i, alt := range docList(doc.schema(t, "EligibilityRule")["anyOf"]) {
		shape := doc.deref(t, alt)
		props, _ := shape["properties"].(map[string]any)
		var fields []string
		for f := range props {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, field := range fields {
			for kw, lim := range doc.limits(t, props[field]) {
				var at, past any
				switch types := doc.schemaTypes(t, props[field]); {
				case types["string"] && kw == "maxLength":
					at, past = strings.Repeat("a", int(lim)), strings.Repeat("a", int(lim)+1)
				case types["number"] && kw == "maximum": // an integer is a number too
					at, past = lim, lim+1
				case types["number"] && kw == "minimum":
					at, past = lim, lim-1
				case types["array"] && kw == "minItems":
					item := doc.minimalValue(t, doc.deref(t, props[field])["items"])
					at, past = slices.Repeat([]any{item}, int(lim)), slices.Repeat([]any{item}, int(lim)-1)
				default:
					t.Errorf("EligibilityRule shape %d, %s: the test does not know how to check %s", i, field, kw)
					continue
				}
				checkedRules++
				for _, tc := range []struct {
					value   any
					refused bool
				}{{at, false}, {past, true}} {
					rule := doc.minimalValue(t, shape).(map[string]any)
					maps.Copy(rule, ruleNeeds[fmt.Sprint(rule["kind"])])
					rule[field] = tc.value
					body := map[string]any{"name": "Limits", "region": "48", "rules": map[string]any{"all_of": []any{rule}}}
					r := e.do(admin, "PUT", "/api/v1/eligibility/rules", body)
					named := "rules.all_of[0]." + field
					refused := r.Status == http.StatusUnprocessableEntity && r.ErrorFields(t)[named] != nil
					if r.Status >= 500 || refused != tc.refused {
						t.Errorf("PUT /api/v1/eligibility/rules with the rule %v (%s %d): status %d, want %s %s\n%s", docShow(rule), kw, lim,
							r.Status, named, map[bool]string{true: "refused (422)", false: "accepted"}[tc.refused], r.Body)
					}
				}
			}
		}
	}
	// The modules a training rule names: 1 to 100 characters each, not blank.
	var modules any
	for _, alt := range docList(doc.schema(t, "EligibilityRule")["anyOf"]) {
		props, _ := doc.deref(t, alt)["properties"].(map[string]any)
		if kind, _ := props["kind"].(map[string]any); kind["const"] == string(eligibility.KindTraining) {
			modules = doc.deref(t, props["modules"])["items"]
		}
	}
	if modules == nil {
		t.Fatal("EligibilityRule has no training shape with modules")
	}
	for _, tc := range []struct {
		module  string
		refused bool
	}{{"a", false}, {strings.Repeat("é", 100), false}, {strings.Repeat("é", 101), true}, {"", true}, {"  ", true}} {
		if ok := len(doc.validate(modules, tc.module, "modules[0]")) == 0; ok == tc.refused {
			t.Errorf("the schema of a training rule's modules accepts %q = %v, want %v", tc.module, ok, !tc.refused)
		}
		rule := map[string]any{"kind": "training", "modules": []any{"device_basics", tc.module}}
		r := e.do(admin, "PUT", "/api/v1/eligibility/rules", map[string]any{"name": "Limits", "region": "48", "rules": map[string]any{"all_of": []any{rule}}})
		refused := r.Status == http.StatusUnprocessableEntity && r.ErrorFields(t)["rules.all_of[0].modules[1]"] != nil
		if r.Status >= 500 || refused != tc.refused {
			t.Errorf("PUT /api/v1/eligibility/rules with the module %q: status %d, want refused = %v\n%s", tc.module, r.Status, tc.refused, r.Body)
		}
	}

	// A reminder policy is checked as a whole too: try each limit of the
	// items of its lists (a day, a step's days, whom a step notifies) in a
	// list of that one item, where the server reports it by its path
	// (due_soon_days[0], overdue[0].notify), except that a step's days are
	// reported under the step (overdue[0]).
	checkedPolicy := 0
	policyProps, _ := doc.schema(t, "ReminderPolicy")["properties"].(map[string]any)
	for _, field := range slices.Sorted(maps.Keys(policyProps)) {
		list := doc.deref(t, policyProps[field])
		if list["type"] != "array" {
			continue
		}
		items := doc.deref(t, list["items"])
		type trial struct {
			named, what string
			value       func(v any) any // the list's one item, with the value tried
			lim         int64
			at, past    any
		}
		var trials []trial
		bounds := func(named string, prop any, value func(v any) any) {
			for kw, lim := range doc.limits(t, prop) {
				tr := trial{named: named, what: kw, value: value, lim: lim}
				switch types := doc.schemaTypes(t, prop); {
				case types["number"] && kw == "maximum":
					tr.at, tr.past = lim, lim+1
				case types["number"] && kw == "minimum":
					tr.at, tr.past = lim, lim-1
				case types["array"] && kw == "minItems":
					item := doc.minimalValue(t, doc.deref(t, prop)["items"])
					tr.at, tr.past = slices.Repeat([]any{item}, int(lim)), slices.Repeat([]any{item}, int(lim)-1)
				default:
					t.Errorf("ReminderPolicy %s, %s: the test does not know how to check %s", field, named, kw)
					continue
				}
				trials = append(trials, tr)
			}
		}
		if props, ok := items["properties"].(map[string]any); ok {
			for _, sub := range slices.Sorted(maps.Keys(props)) {
				bounds(fmt.Sprintf("%s[0].%s", field, sub), props[sub], func(v any) any {
					item := maps.Clone(listItem[field](0).(map[string]any))
					item[sub] = v
					return item
				})
			}
		} else {
			bounds(field+"[0]", list["items"], func(v any) any { return v })
		}
		for _, tr := range trials {
			checkedPolicy++
			if step, ok := strings.CutSuffix(tr.named, "].days"); ok {
				tr.named = step + "]"
			}
			for _, tc := range []struct {
				value   any
				refused bool
			}{{tr.at, false}, {tr.past, true}} {
				body := e.must(200, admin, "GET", "/api/v1/notifications/policy", nil).JSON(t)
				body[field] = []any{tr.value(tc.value)}
				r := e.do(admin, "PUT", "/api/v1/notifications/policy", body)
				refused := r.Status == http.StatusUnprocessableEntity && r.ErrorFields(t)[tr.named] != nil
				if r.Status >= 500 || refused != tc.refused || !tc.refused && r.Status != http.StatusOK {
					t.Errorf("PUT /api/v1/notifications/policy with %s %v (%s %d): status %d, want %s %s\n%s", field, body[field], tr.what, tr.lim,
						r.Status, tr.named, map[bool]string{true: "refused (422)", false: "accepted (200)"}[tc.refused], r.Body)
				}
			}
		}
	}
	if checkedPolicy < 7 {
		t.Errorf("only %d limits of a reminder policy's lists found to check", checkedPolicy)
	}

	if checkedRules < 10 {
		t.Errorf("only %d limits of rules found to check", checkedRules)
	}

	if checkedLimits < 20 {
		t.Errorf("only %d limits found to check", checkedLimits)
	}
	t.Logf("checked %d limits, %d of rules and %d of a reminder policy's lists", checkedLimits, checkedRules, checkedPolicy)
}

// limits collects a property's numeric limits, its own first, then those of
// the schemas it refers to.
func (d *apiDoc) limits(t testing.TB, prop any) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for range 20 {
		m, ok := prop.(map[string]any)
		if !ok {
			break
		}
		for _, kw := range []string{"maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems"} {
			if _, seen := out[kw]; !seen {
				if v, ok := docIntOf(m[kw]); ok {
					out[kw] = v
				}
			}
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		prop, _ = d.lookup(ref)
	}
	return out
}

// minimalValue is a small value that a schema accepts: an object with its
// required fields only.
func (d *apiDoc) minimalValue(t testing.TB, schema any) any {
	t.Helper()
	s := d.deref(t, schema)
	if e := docList(s["enum"]); len(e) > 0 {
		return e[0]
	}
	if c, ok := s["const"]; ok {
		return c
	}
	types := d.schemaTypes(t, s)
	switch {
	case types["object"]:
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for _, r := range docList(s["required"]) {
			out[r.(string)] = d.minimalValue(t, props[r.(string)])
		}
		return out
	case types["string"]:
		n, _ := docIntOf(s["minLength"])
		return strings.Repeat("a", max(int(n), 1))
	case types["integer"]:
		n, _ := docIntOf(s["minimum"])
		return n
	case types["boolean"]:
		return true
	case types["array"]:
		return []any{}
	}
	return nil
}

// docFileRequest records a client of worker's with recent proof and the
// given income, files a request for a laptop for them, and returns its id;
// the request must have come out in one of the statuses want.
func docFileRequest(e *env, worker string, incomeCents int, want ...string) int64 {
	e.t.Helper()
	client := e.situated(worker, map[string]any{"annual_income_cents": incomeCents})
	r := e.must(201, worker, "POST", "/api/v1/requests", map[string]any{"client_id": client, "device_kind": "laptop"}).JSON(e.t)
	if status, _ := r["status"].(string); !slices.Contains(want, status) {
		e.t.Fatalf("a request for a client with an income of %d cents is %v, want one of %v", incomeCents, r["status"], want)
	}
	return int64(r["id"].(float64))
}

// TestOpenAPIBusyAnswersMatchDocument checks the answer of every route
// that hashes a password while the server hashes all it can at once.
func TestOpenAPIBusyAnswersMatchDocument(t *testing.T) {
	doc := loadOpenAPIDoc(t)
	e := newEnv(t, dbtest.Open(t, storage.SQLite))
	c := newDocChecker(t, e, doc)
	userID, user := e.user(accounts.Coordinator)
	_, admin := e.user(accounts.Admin)
	limit := accounts.NewHashLimit(1, time.Millisecond)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	limit.Holding = func() {
		once.Do(func() {
			close(held)
			<-release
		})
	}
	e.svc.Accounts.Hashing = limit
	signIn := map[string]any{"email": "nobody@agency.test", "password": "not a password"}
	holder := make(chan int)
	go func() { holder <- e.do("", "POST", "/api/v1/auth/token", signIn).Status }()
	<-held
	c.call(503, "", "POST", "/api/v1/auth/token", signIn)
	c.call(503, user, "POST", "/api/v1/me/password", map[string]any{"current_password": testPassword, "new_password": "a fresh phrase for busy days"})
	c.call(503, admin, "POST", "/api/v1/users", map[string]any{"email": "busy@agency.test", "name": "Busy", "role": "funder", "password": testPassword})
	c.call(503, admin, "POST", path("/api/v1/users/%d/password-reset", userID), nil)
	close(release)
	if status := <-holder; status != 401 {
		t.Fatalf("the sign-in that held the slot: %d", status)
	}
}
