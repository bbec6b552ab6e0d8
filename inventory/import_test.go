package inventory

import (
	"bytes"
	"strings"
	"testing"

	"github.com/devicebank/devicebank/apperr"
)

func fileError(t *testing.T, data []byte) string {
	t.Helper()
	plan, err := ParseImport(data)
	e, ok := err.(*apperr.Error)
	if plan != nil || !ok || e.Code != apperr.Invalid || e.Fields["file"] == "" {
		t.Fatalf("ParseImport(%.60q): %v, %v; want an error on file", data, plan, err)
	}
	return e.Fields["file"]
}

// A file that cannot be read as a whole is refused with one problem on
// "file", whatever hostile shape it has.
func TestParseImportRefusesBadFiles(t *testing.T) {
	for _, c := range []struct {
		data []byte
		want string
	}{
		{nil, "is empty"},
		{[]byte("\xef\xbb\xbf  \n"), "is empty"},
		{[]byte("kind,make,model\ntablet,Acme,\xff\xfe\n"), "not UTF-8 text (line 2)"},
		{[]byte("kind,make\ntablet,Acme\n"), `no column "model"`},
		{[]byte("kind,make,model\ntablet,Ac\x00me,M\n"), "NUL character (line 2)"},
		{[]byte("kind,make,model,colour\n"), `column "colour" that is not one of`},
		{[]byte("kind,make,model,Kind\n"), `column "kind" twice`},
		{[]byte(strings.Repeat("kind,", 12) + "\n"), "has 13 columns; there are only 11"},
		{[]byte("kind,make,model\n"), "has no devices"},
		{[]byte("kind,make,model\n\"tablet,Acme,M\n"), "cannot be read at line"},
		{bytes.Repeat([]byte("x"), MaxImportBytes+1), "at most 500 KB"},
		{[]byte("kind,make,model,serial\n" + strings.Repeat("tablet,Acme,M,S\n", MaxImportRows+1)), "more than 1000 devices"},
	} {
		if got := fileError(t, c.data); !strings.Contains(got, c.want) {
			t.Errorf("ParseImport(%.40q): %q, want %q", c.data, got, c.want)
		}
	}
}

// Each row is checked as CreateDevice checks a device, and against the
// rows before it; its problems are named by field and line. A BOM, a
// header in capitals, quotes and spaces are read as a spreadsheet means them.
func TestParseImportChecksEachRow(t *testing.T) {
	data := "\xef\xbb\xbfKind, Make ,model,serial,asset_tag,imei,purchase_cost,accessories,condition\n" +
		"tablet,Lenovo,\"Tab M10, 2nd gen\",S1,TAB-1,,189.99,Charger; Case,\n" +
		"drone,,M,,,123,12.345,,shiny\n" +
		"laptop,Dell,T14,S1,TAB-1,,,,\n" +
		"phone,Acme,One\n" +
		"phone,Acme,One,S9,," + strings.Repeat("é", maxImportField) + ",,,\n"
	plan, err := ParseImport([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Rows) != 5 || plan.Invalid() != 4 || plan.Digest != ImportDigest([]byte(data)) {
		t.Fatalf("rows %d, invalid %d", len(plan.Rows), plan.Invalid())
	}
	good := plan.Rows[0]
	if good.Line != 2 || len(good.Problems) != 0 || *good.Input.Model != "Tab M10, 2nd gen" || *good.Input.PurchaseCostCents != 18999 ||
		len(*good.Input.Accessories) != 2 || (*good.Input.Accessories)[1].Name != "Case" {
		t.Errorf("the good row: %+v", good)
	}
	want := []apperr.Fields{
		{"kind": "must be one of", "make": "is required", "imei": "15 digits", "purchase_cost": "in dollars", "condition": "must be one of", "serial": "serial number or an asset tag is required"},
		{"asset_tag": "same as on line 2"},
		{"row": "has 3 values; the header names 9 columns"},
		{"imei": "far too long"},
	}
	for i, w := range want {
		r := plan.Rows[i+1]
		for field, problem := range w {
			if !strings.Contains(r.Problems[field], problem) {
				t.Errorf("line %d, %s: %q, want %q (all: %v)", r.Line, field, r.Problems[field], problem, r.Problems)
			}
		}
	}
	if got := plan.Rows[2].Problems["serial"]; got != "" {
		t.Errorf("a serial of another make is no duplicate... got %q", got)
	}
}

func TestImportTemplateReadsBack(t *testing.T) {
	plan, err := ParseImport(ImportTemplate())
	if err != nil || len(plan.Rows) != 1 || plan.Invalid() != 0 {
		t.Fatalf("the template: %v %+v", err, plan)
	}
}

func TestParseDollars(t *testing.T) {
	for in, want := range map[string]int64{"189.99": 18999, "189": 18900, "$1,189.5": 118950, "0.05": 5} {
		if got, ok := ParseDollars(in); !ok || got != want {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-1", "1.", "1.234", "abc", "1e3", "99999999999"} {
		if _, ok := ParseDollars(in); ok {
			t.Errorf("%q read as dollars", in)
		}
	}
}
