package eligibility

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
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

// Validate checks a table as loaded, naming the bad field.
func (g *Guideline) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(g.ID) == "" {
		add("id: is required")
	}
	if strings.TrimSpace(g.Region) == "" {
		add("region: is required")
	}
	if g.Year < 1990 || g.Year > 2200 {
		add("year: must be a year such as 2026")
	}
	if strings.TrimSpace(g.Source) == "" {
		add("source: is required: name the published notice the figures come from")
	}
	if len(g.AmountsCents) == 0 || len(g.AmountsCents) > 20 {
		add("amounts_cents: must list the amounts for households of 1 up to at most 20 people")
	}
	for i, a := range g.AmountsCents {
		if a <= 0 {
			add("amounts_cents[%d]: must be more than 0", i)
		} else if i > 0 && a <= g.AmountsCents[i-1] {
			add("amounts_cents[%d]: must be more than the amount for a smaller household", i)
		}
	}
	if g.EachAdditionalCents <= 0 {
		add("each_additional_cents: must be more than 0")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

//go:embed guidelines/*.json
var shipped embed.FS

// Shipped returns the guideline tables that come with DeviceBank.
func Shipped() ([]Guideline, error) {
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
