package calendar

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
)

func TestParseAndFormat(t *testing.T) {
	for _, bad := range []string{"", "2026-13-01", "2026-02-30", "26-01-01", "2026/01/01", "2026-01-01T00:00:00Z", "0000-01-01", "1899-12-31", "2201-01-01"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a bad date", bad)
		}
	}
	d, err := Parse("2028-02-29")
	if err != nil || d.String() != "2028-02-29" {
		t.Fatalf("leap day: %v %v", d, err)
	}
	if got := d.AddDays(1).String(); got != "2028-03-01" {
		t.Fatalf("AddDays across month end: %s", got)
	}
}

func TestTodayUsesTheAgencyZone(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone data")
	}
	// 03:00 UTC on 10 March is still 9 March in Chicago.
	now := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC)
	if got := Today(now, chicago).String(); got != "2026-03-09" {
		t.Fatalf("Today in Chicago = %s, want 2026-03-09", got)
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		D Date `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d":"2026-04-10"}`), &v); err != nil || v.D.String() != "2026-04-10" {
		t.Fatalf("unmarshal: %v %v", v.D, err)
	}
	// A string that is not a date is kept as a problem, for validation to
	// report with the other fields; it is never stored or written out.
	if err := json.Unmarshal([]byte(`{"d":"2026-02-30"}`), &v); err != nil || v.D.Problem() == "" || v.D.IsZero() {
		t.Fatalf("an impossible date: %+v %v", v.D, err)
	}
	var bad apperr.Fields
	if v.D.Check(&bad, "d") || bad["d"] != "must be a date written YYYY-MM-DD" {
		t.Fatalf("Check: %v", bad)
	}
	if _, err := v.D.Value(); err == nil {
		t.Fatal("an impossible date would be stored")
	}
	if _, err := json.Marshal(v); err == nil {
		t.Fatal("an impossible date was written out")
	}
	// A value of another type is an error at once.
	if err := json.Unmarshal([]byte(`{"d":20260410}`), &v); err == nil {
		t.Fatal("unmarshal accepted a number")
	}
	if err := json.Unmarshal([]byte(`{"d":null}`), &v); err != nil || !v.D.IsZero() {
		t.Fatalf("null: %v %v", v.D, err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"d":null}` {
		t.Fatalf("zero date marshals as %s", b)
	}
}

// Scan must read what either database driver hands back.
func TestScan(t *testing.T) {
	for _, src := range []any{"2026-04-10", []byte("2026-04-10"), "2026-04-10 00:00:00+00:00",
		time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC)} {
		var d Date
		if err := d.Scan(src); err != nil || d.String() != "2026-04-10" {
			t.Errorf("Scan(%#v) = %v, %v", src, d, err)
		}
	}
	var d Date
	if err := d.Scan(nil); err != nil || !d.IsZero() {
		t.Errorf("Scan(nil) = %v, %v", d, err)
	}
	if err := d.Scan(42); err == nil {
		t.Error("Scan accepted an int")
	}
	if v, _ := (Date{}).Value(); v != nil {
		t.Errorf("zero date stores as %v, want NULL", v)
	}
}

func TestAddMonthsClampsToMonthEnd(t *testing.T) {
	for _, c := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-03-31", -1, "2026-02-28"},
		{"2028-03-31", -1, "2028-02-29"},
		{"2026-11-23", -12, "2025-11-23"},
		{"2026-01-15", -13, "2024-12-15"},
		{"2026-12-31", 2, "2027-02-28"},
		{"2026-05-10", 0, "2026-05-10"},
	} {
		d, _ := Parse(c.from)
		if got := d.AddMonths(c.n).String(); got != c.want {
			t.Errorf("%s %+d months = %s, want %s", c.from, c.n, got, c.want)
		}
	}
}

func TestYearsSince(t *testing.T) {
	born, _ := Parse("1966-03-10")
	for on, want := range map[string]int{"2026-03-09": 59, "2026-03-10": 60, "2026-12-31": 60} {
		d, _ := Parse(on)
		if got := born.YearsSince(d); got != want {
			t.Errorf("age on %s = %d, want %d", on, got, want)
		}
	}
}

func TestNoZoneMeansUTC(t *testing.T) {
	late := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	if got := Today(late, nil).String(); got != "2026-03-10" {
		t.Fatalf("Today with no zone = %s", got)
	}
	if Zone(nil) != time.UTC {
		t.Fatal("Zone(nil) is not UTC")
	}
	tokyo := time.FixedZone("JST", 9*3600)
	if got := In(late, tokyo).String(); got != "2026-03-11" {
		t.Fatalf("In(Tokyo) = %s", got)
	}
}
