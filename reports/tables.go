package reports

// Section is one part of a report ("Loans") with its figures as tables,
// as the PDF and the web page show them.
type Section struct {
	Name, Title string
	Tables      []Table
}

// Table is a table of a section's figures: its scalar measures ("Measure",
// "Value"), or one breakdown (Breakdown: by kind, month, need...). Each row
// starts with what it is (a row header) and has every figure as Text, so
// that a suppressed one reads "<5" or "suppressed".
type Table struct {
	// Title is the breakdown's name ("By month"); empty for the table of
	// scalar measures.
	Title     string
	Breakdown bool
	Head      []string
	Rows      [][]string
}

// Sections is r's figures as tables, section by section in the order of
// the JSON, with the words the PDF uses.
func (r *Report) Sections() []Section {
	var out []Section
	for _, s := range r.sections() {
		sec := Section{Name: s.Name, Title: sectionTitles[s.Name]}
		var rows [][]string
		flush := func() {
			if len(rows) > 0 {
				sec.Tables = append(sec.Tables, Table{Head: []string{"Measure", "Value"}, Rows: rows})
				rows = nil
			}
		}
		for _, m := range s.Measures {
			if m.Table == nil {
				rows = append(rows, []string{label(m.Name), m.Value.Text()})
				continue
			}
			flush()
			sec.Tables = append(sec.Tables, m.Table.table(label(m.Name)))
		}
		flush()
		out = append(out, sec)
	}
	return out
}

// table is b with its head and rows written out.
func (b *breakdown) table(title string) Table {
	t := Table{Title: title, Breakdown: true, Head: []string{label(b.Key)}, Rows: [][]string{}}
	for _, c := range b.Columns {
		t.Head = append(t.Head, label(or(statusNames[c], c)))
	}
	for _, row := range b.Rows {
		cells := []string{row.Key}
		for _, f := range row.Figures {
			cells = append(cells, f.Text())
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}
