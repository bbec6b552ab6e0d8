package reports

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the header row of the report's CSV.
var CSVHeader = []string{"section", "measure", "breakdown", "value"}

// CSV writes the report as UTF-8 CSV: the header, then one row per figure,
// section by section in the order of the JSON:
//
//	period,from,,2026-01-01
//	filters,funding_source,7,City Digital Fund
//	pool,by_kind,laptop/available,12
//	use,by_month,2026-03/issued,4
//	people,by_need,internet_access,<5
//
// A breakdown of several figures names the row and the figure
// ("laptop/available"), one of a single figure the row alone. Without a
// funding source filter the funding_source row says "all"; narrowed to
// none (a funder linked to none), "none". Every cell goes through
// SafeCell.
func (r *Report) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	write := func(cells ...string) {
		for i, c := range cells {
			cells[i] = SafeCell(c)
		}
		cw.Write(cells) // its error is kept and returned by Error
	}
	write(CSVHeader...)
	write("period", "from", "", r.Period.From.String())
	write("period", "to", "", r.Period.To.String())
	switch f := r.Filters; {
	case f.FundingSources == nil:
		write("filters", "funding_source", "", "all")
	case len(f.FundingSources) == 0:
		write("filters", "funding_source", "", "none")
	default:
		for _, s := range f.FundingSources {
			write("filters", "funding_source", strconv.FormatInt(s.ID, 10), s.Name)
		}
	}
	if r.Filters.Kind != "" {
		write("filters", "kind", "", r.Filters.Kind)
	}
	if r.Filters.PostalPrefix != "" {
		write("filters", "postal_prefix", "", r.Filters.PostalPrefix)
	}
	for _, s := range r.Filters.AgencyWide {
		write("filters", "agency_wide", "", s)
	}
	for _, s := range r.sections() {
		for _, m := range s.Measures {
			if m.Table == nil {
				write(s.Name, m.Name, "", m.Value.Text())
				continue
			}
			for _, row := range m.Table.Rows {
				for i, f := range row.Figures {
					key := row.Key
					if len(m.Table.Columns) > 1 {
						key += "/" + m.Table.Columns[i]
					}
					write(s.Name, m.Name, key, f.Text())
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell makes a CSV cell inert in a spreadsheet (OWASP's CSV
// injection): a cell beginning with =, +, -, @, a tab or a carriage return
// would be read as a formula, so it is prefixed with an apostrophe, which
// spreadsheets show as text. Apply it to every cell a user could have
// typed; a report's own cells never begin so (no figure is negative), so
// applying it to every cell changes nothing else.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
