package clients

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sort"
)

// Codes is a set of short codes (benefit programs, needs flags), stored as
// a JSON list in a text column and always written sorted and unique.
type Codes []string

// Normalize sorts the codes and drops repeats.
func (c Codes) Normalize() Codes {
	out := Codes{}
	seen := map[string]bool{}
	for _, v := range c {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// Value stores the codes as JSON text.
func (c Codes) Value() (driver.Value, error) {
	if c == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(c))
	return string(b), err
}

// Scan reads codes stored as JSON text.
func (c *Codes) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c = Codes{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("clients: cannot scan %T into Codes", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("clients: bad stored codes %q: %w", b, err)
	}
	*c = Codes(out)
	return nil
}

// Programs are the benefit programs DeviceBank knows; an agency may use
// other codes of its own.
var Programs = []string{"snap", "medicaid", "ssi", "public_housing", "veterans_pension", "wic", "tanf",
	"school_meals", "pell", "lifeline", "tribal"}

// Needs are the needs flags DeviceBank knows; an agency may use others.
var Needs = []string{"no_home_internet", "school_age_children", "disability", "age_60_plus", "leaving_care", "fleeing_violence"}
