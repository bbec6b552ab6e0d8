package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/apperr"
)

// decode reads the JSON object in the request body into dst (a pointer to
// a struct). A body not sent as JSON is a 415; malformed JSON is a 400;
// unknown fields and values of the wrong type are a 422 naming every such
// field at once.
func decode(c *fiber.Ctx, dst any) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return apperr.New(apperr.Malformed, "the request body must be a JSON object")
	}
	if !isJSON(c.Get(fiber.HeaderContentType)) || headerLines(c, fiber.HeaderContentType) > 1 {
		return apperr.New(apperr.UnsupportedMediaType, "send the body as JSON, with the header Content-Type: application/json (once)")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return apperr.New(apperr.Malformed, "the request body is not valid JSON (at byte %d)", syn.Offset)
		}
		return apperr.New(apperr.Malformed, "the request body must be a JSON object")
	}
	if fields == nil { // the body was null
		return apperr.New(apperr.Malformed, "the request body must be a JSON object")
	}
	// Neither database stores a NUL character in text; refuse it by field.
	// In valid JSON a NUL can only be written \u0000, so most bodies are
	// cleared by one scan.
	var nul apperr.Fields
	for name, raw := range fields {
		if !bytes.Contains(raw, []byte(`\u0000`)) {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil && hasNUL(v) {
			nul.Add(name, "must not contain the NUL character")
		}
	}
	if err := nul.Err(); err != nil {
		return err
	}
	if err := strictUnmarshal(body, dst); err == nil {
		return nil
	}
	// Something is wrong with one or more fields: try each alone to name
	// them all, with what each one should be.
	var bad apperr.Fields
	typ := reflect.TypeOf(dst).Elem()
	for name, raw := range fields {
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		v := reflect.New(typ)
		if err := strictUnmarshal(one, v.Interface()); err != nil {
			bad.Add(fieldName(name, err), problem(err))
		} else if p := valueProblem(v); p != "" {
			// The service would have reported it with the rest; it does
			// not run now, so it is reported here.
			bad.Add(name, p)
		}
	}
	if len(bad) == 0 {
		return apperr.New(apperr.Malformed, "the request body could not be read")
	}
	return bad.Err()
}

// decodeOptional is decode for a route whose body may be left out: with no
// body (or only white space) dst is left as it is.
func decodeOptional(c *fiber.Ctx, dst any) error {
	if len(bytes.TrimSpace(c.Body())) == 0 {
		return nil
	}
	return decode(c, dst)
}

// headerLines counts the request's header lines named name. The parsed
// headers keep only the last Content-Type line, where a proxy or firewall
// in front may have read the first, so the raw header is counted.
func headerLines(c *fiber.Ctx, name string) int {
	n := 0
	for _, line := range bytes.Split(c.Request().Header.RawHeaders(), []byte("\n")) {
		if k, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(bytes.TrimSpace(k)), name) {
			n++
		}
	}
	return n
}

// isJSON reports whether a Content-Type header says JSON: application/json,
// in any case, with no parameter but charset=utf-8 (JSON is UTF-8).
func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// problemValue is a value that decodes from well-formed JSON but may hold
// something its type cannot be (calendar.Date: "2026-02-30"), for the
// service's validation to report.
type problemValue interface{ Problem() string }

// valueProblem finds the first such problem in v (exported struct fields,
// pointers and lists are searched).
func valueProblem(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return valueProblem(v.Elem())
		}
	case reflect.Struct:
		if pv, ok := v.Interface().(problemValue); ok {
			return pv.Problem()
		}
		for i := 0; i < v.NumField(); i++ {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if p := valueProblem(v.Field(i)); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p := valueProblem(v.Index(i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// hasNUL reports whether any string in a decoded JSON value has a NUL.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, 0)
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// rejectNULQuery refuses a query string whose values carry a NUL character.
func rejectNULQuery(c *fiber.Ctx) error {
	var bad apperr.Fields
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if bytes.IndexByte(v, 0) >= 0 || bytes.IndexByte(k, 0) >= 0 {
			bad.Add(string(bytes.ReplaceAll(k, []byte{0}, nil)), "must not contain the NUL character")
		}
	})
	if err := bad.Err(); err != nil {
		return err
	}
	return c.Next()
}

func strictUnmarshal(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func fieldName(top string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	return top
}

func problem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "must be " + describe(te.Type)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field") {
		return "is not a known field"
	}
	return strings.TrimPrefix(msg, "json: ")
}

func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return fmt.Sprintf("a %s", t.Kind())
}

// pathID reads a positive integer id from the route; anything else is "not found".
func pathID(c *fiber.Ctx, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, "%s not found", what)
	}
	return id, nil
}

// queryIDs reads optional positive integer ids from the query string.
func queryIDs(c *fiber.Ctx, names ...string) (map[string]int64, error) {
	out := map[string]int64{}
	var bad apperr.Fields
	for _, n := range names {
		v := c.Query(n)
		if v == "" {
			continue
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			bad.Add(n, "must be a positive whole number")
			continue
		}
		out[n] = id
	}
	return out, bad.Err()
}
