package eligibility

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Guideline is an income table by household size, such as the HHS poverty
// guidelines for one year and region. Thresholds are computed from it,
// never copied from a chart.
type Guideline struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Region   string `json:"region"` // "48" (contiguous states and DC), "AK", "HI", or an agency's own
	Year     int    `json:"year"`
	Currency string `json:"currency"`
	Source   string `json:"source"`
	// AmountsCents[i] is the annual amount for a household of i+1 people.
	AmountsCents []int64 `json:"amounts_cents"`
	// EachAdditionalCents is added for every person beyond the table.
	EachAdditionalCents int64 `json:"each_additional_cents"`
}

// Amount is the guideline's annual amount for a household of size people.
func (g *Guideline) Amount(size int) int64 {
	n := len(g.AmountsCents)
	if size <= n {
		return g.AmountsCents[size-1]
	}
	return g.AmountsCents[n-1] + int64(size-n)*g.EachAdditionalCents
}

// Threshold is percent% of the amount for size people, in cents, rounded
// down to the cent.
func (g *Guideline) Threshold(size, percent int) int64 {
	return g.Amount(size) * int64(percent) / 100
}

// Validate checks a table as loaded; a *ValidationError names each bad field.
func (g *Guideline) Validate() error {
	problems := map[string]string{}
	bad := func(field, format string, args ...any) { problems[field] = fmt.Sprintf(format, args...) }
	if strings.TrimSpace(g.ID) == "" || len([]rune(g.ID)) > 60 {
		bad("id", "is required, at most 60 characters")
	}
	if len([]rune(g.Name)) > 200 {
		bad("name", "must be at most 200 characters")
	}
	if len([]rune(g.Source)) > 500 {
		bad("source", "must be at most 500 characters")
	}
	if !validCurrency(g.Currency) {
		bad("currency", "must be a three-letter currency code such as USD or CAD")
	}
	if strings.TrimSpace(g.Region) == "" || len([]rune(g.Region)) > 20 {
		bad("region", "is required, at most 20 characters")
	}
	if g.Year < 1990 || g.Year > 2200 {
		bad("year", "must be a year such as 2026")
	}
	if strings.TrimSpace(g.Source) == "" {
		bad("source", "is required: name the published notice the figures come from")
	}
	if len(g.AmountsCents) == 0 || len(g.AmountsCents) > 20 {
		bad("amounts_cents", "must list the amounts for households of 1 up to at most 20 people")
	}
	for i, a := range g.AmountsCents {
		if a <= 0 || a > 100_000_000_00 {
			bad(fmt.Sprintf("amounts_cents[%d]", i), "must be more than 0 and at most 100,000,000 dollars")
		} else if i > 0 && a <= g.AmountsCents[i-1] {
			bad(fmt.Sprintf("amounts_cents[%d]", i), "must be more than the amount for a smaller household")
		}
	}
	if g.EachAdditionalCents <= 0 || g.EachAdditionalCents > 100_000_000_00 {
		bad("each_additional_cents", "must be more than 0 and at most 100,000,000 dollars")
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

//go:embed guidelines/*.json
var shipped embed.FS

// Shipped returns the guideline tables that come with DeviceBank, read
// once. Callers must not change the slice.
func Shipped() ([]Guideline, error) { return shippedOnce() }

var shippedOnce = sync.OnceValues(readShipped)

func readShipped() ([]Guideline, error) {
	var out []Guideline
	err := fs.WalkDir(shipped, "guidelines", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(shipped, path)
		if err != nil {
			return err
		}
		var g Guideline
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := g.Validate(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, g)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Guidelines finds the table for a region and the year of a decision.
type Guidelines []Guideline

// For returns the table for region and year, or, when that year has no
// table yet (early in January, before the notice), the latest earlier one;
// exact reports which.
func (gs Guidelines) For(region string, year int) (g *Guideline, exact bool) {
	for i := range gs {
		c := &gs[i]
		if c.Region != region || c.Year > year {
			continue
		}
		if g == nil || c.Year > g.Year {
			g = c
		}
	}
	return g, g != nil && g.Year == year
}

// HasRegion reports whether some table covers region.
func (gs Guidelines) HasRegion(region string) bool {
	for _, g := range gs {
		if g.Region == region {
			return true
		}
	}
	return false
}

// Regions lists the regions the tables cover, each once, in order.
func (gs Guidelines) Regions() []string {
	var out []string
	for _, g := range gs {
		if !slices.Contains(out, g.Region) {
			out = append(out, g.Region)
		}
	}
	sort.Strings(out)
	return out
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
