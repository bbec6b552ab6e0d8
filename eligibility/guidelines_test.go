package eligibility

import (
	"strings"
	"testing"
)

func TestShippedTablesComputeThePublishedFigures(t *testing.T) {
	tables, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	gs := Guidelines(tables)
	g26, exact := gs.For("48", 2026)
	if g26 == nil || !exact || g26.Year != 2026 {
		t.Fatalf("2026 table: %+v", g26)
	}
	g25, _ := gs.For("48", 2025)
	for _, c := range []struct {
		g       *Guideline
		size    int
		percent int
		want    int64
	}{
		{g26, 1, 100, 1596000},
		{g26, 3, 135, 3688200}, // $36,882: 135% for 3 people, 2026
		{g26, 4, 200, 6600000},
		{g26, 8, 100, 5572000},
		{g26, 9, 100, 5572000 + 568000}, // the per-person increment
		{g26, 12, 100, 5572000 + 4*568000},
		{g25, 2, 100, 2115000},
		{g25, 9, 135, (5415000 + 550000) * 135 / 100},
	} {
		if got := c.g.Threshold(c.size, c.percent); got != c.want {
			t.Errorf("%s: %d%% for %d people = %d, want %d", c.g.ID, c.percent, c.size, got, c.want)
		}
	}
	// Before next year's notice, the latest table stands in, and says so.
	if g, exact := gs.For("48", 2027); g == nil || g.Year != 2026 || exact {
		t.Fatalf("2027 falls back to %+v (exact %v), want 2026, not exact", g, exact)
	}
	if g, _ := gs.For("AK", 2026); g != nil {
		t.Fatalf("no Alaska table ships, got %v", g.ID)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	g := Guideline{ID: "x", Region: "AK", Year: 2026, Source: "notice", AmountsCents: []int64{100, 50}, EachAdditionalCents: 0}
	err := g.Validate()
	if err == nil {
		t.Fatal("a decreasing table was accepted")
	}
	for _, want := range []string{"amounts_cents[1]", "each_additional_cents"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
