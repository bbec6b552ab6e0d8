package inventory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/storage"
)

// Devices are imported from a CSV file in two steps: a preview, which
// checks every row and names each row's problems (field, what is wrong)
// before anything is saved (and keeps an importable file as a pending
// import), and the import of that pending import, which saves
// all its devices in one transaction or none. Every row names its device
// by an asset tag or a serial number (both unique in the pool), so that a
// file imported twice finds its devices already there: the second import
// is refused as a whole and nothing is saved twice.

const (
	// MaxImportBytes is the largest CSV file imported at once.
	MaxImportBytes = 500 << 10
	// MaxImportRows is the most devices imported at once.
	MaxImportRows = 1000
	// maxImportField is the longest value a cell may hold (the longest
	// column, notes, holds MaxNotesLength characters of up to 4 bytes).
	maxImportField = 4 * MaxNotesLength
)

// ImportColumn is one column of the import file.
type ImportColumn struct {
	Name        string
	Required    bool
	Description string
	Example     string
}

// ImportColumns are the columns of the import file, in the template's
// order. The header names them (in any order, ignoring case); only kind,
// make and model must be there.
var ImportColumns = []ImportColumn{
	{"kind", true, "One of " + list(Kinds) + ".", "tablet"},
	{"make", true, "The maker, at most 100 characters.", "Lenovo"},
	{"model", true, "The model, at most 100 characters.", "Tab M10"},
	{"serial", false, "The maker's serial number, at most 100 characters. A row needs a serial or an asset tag.", "HGT7X2"},
	{"imei", false, "A phone's 15-digit IMEI, with its check digit.", ""},
	{"asset_tag", false, "The agency's tag, at most 50 characters; empty for the next DB-NNNNNN.", "TAB-0101"},
	{"condition", false, "One of " + strings.Join(Conditions, ", ") + "; empty for good.", "new"},
	{"funding_source", false, "The name of a funding source an admin added; empty for none.", ""},
	{"purchase_cost", false, "What it cost, in dollars and cents, such as 189.99.", "189.99"},
	{"accessories", false, "What goes out with it, separated by semicolons, such as Charger; Case.", "Charger; Case"},
	{"notes", false, "Anything else, at most 2000 characters.", ""},
}

// ImportTemplate is a CSV file with the header and one example row.
func ImportTemplate() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	var head, example []string
	for _, c := range ImportColumns {
		head, example = append(head, c.Name), append(example, c.Example)
	}
	w.Write(head)
	w.Write(example)
	w.Flush()
	return b.Bytes()
}

// ImportRow is one row of an import file: where it is, what it says, and
// what is wrong with it.
type ImportRow struct {
	// Line is the row's line in the file (the header is line 1).
	Line   int
	Values map[string]string
	Input  DeviceInput
	// Problems are the row's problems by field ("row" for the whole row).
	Problems apperr.Fields
	// Existing: the row's asset tag or serial is a device's in the pool.
	Existing bool
}

// ImportPlan is an import file read and checked: its rows, and the
// digest of its exact bytes. A preview that may be imported is kept as a
// pending import, whose ID the confirmation names.
type ImportPlan struct {
	Digest string
	Rows   []ImportRow
	ID     int64
}

// pendingImport is a previewed file waiting for its confirmation
// (migration 0020).
type pendingImport struct {
	bun.BaseModel `bun:"table:device_imports,alias:di"`

	ID         int64      `bun:"id,pk,autoincrement"`
	CreatedBy  int64      `bun:"created_by"`
	Digest     string     `bun:"digest"`
	Content    []byte     `bun:"content"`
	CreatedAt  time.Time  `bun:"created_at"`
	ImportedAt *time.Time `bun:"imported_at"`
}

// PendingImportLifetime is how long a preview may wait for its
// confirmation.
const PendingImportLifetime = 24 * time.Hour

// Invalid counts the rows with problems.
func (p *ImportPlan) Invalid() int {
	n := 0
	for _, r := range p.Rows {
		if len(r.Problems) > 0 {
			n++
		}
	}
	return n
}

// AllExisting reports whether every row names a device already in the
// pool: the file was imported before.
func (p *ImportPlan) AllExisting() bool {
	for _, r := range p.Rows {
		if !r.Existing {
			return false
		}
	}
	return len(p.Rows) > 0
}

// ImportDigest is the digest of an import file's bytes.
func ImportDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// fileProblem is a problem with the file as a whole, on its field "file".
func fileProblem(format string, args ...any) error {
	return apperr.Fields{"file": fmt.Sprintf(format, args...)}.Err()
}

// ParseImport reads an import file and checks each row by itself and
// against the other rows. A file that cannot be read as a whole (too
// large, not UTF-8, no header, an unknown or repeated column, too many
// rows) is an Invalid error on "file"; a row's problems are in the row.
func ParseImport(data []byte) (*ImportPlan, error) {
	plan := &ImportPlan{Digest: ImportDigest(data)}
	if len(data) > MaxImportBytes {
		return nil, fileProblem("is %d KB; at most %d KB at once: split it", (len(data)+1023)/1024, MaxImportBytes>>10)
	}
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's byte-order mark
	if !utf8.Valid(body) {
		line := 1 + bytes.Count(body[:badUTF8(body)], []byte("\n"))
		return nil, fileProblem("is not UTF-8 text (line %d): save it from the spreadsheet as “CSV UTF-8”", line)
	}
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return nil, fileProblem("has a NUL character (line %d): it is not a text file", 1+bytes.Count(body[:i], []byte("\n")))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fileProblem("is empty: the first line names the columns, each further line is a device")
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fileProblem("has no header line that can be read: %v", csvErr(err))
	}
	if len(head) > len(ImportColumns) {
		return nil, fileProblem("has %d columns; there are only %d: %s", len(head), len(ImportColumns), columnNames())
	}
	cols := make([]string, len(head))
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.ContainsFunc(ImportColumns, func(c ImportColumn) bool { return c.Name == h }) {
			return nil, fileProblem("has a column %q that is not one of %s", clip(h, 40), columnNames())
		}
		if slices.Contains(cols, h) {
			return nil, fileProblem("has the column %q twice", h)
		}
		cols[i] = h
	}
	for _, c := range ImportColumns {
		if c.Required && !slices.Contains(cols, c.Name) {
			return nil, fileProblem("has no column %q: the first line must name the columns (download the template)", c.Name)
		}
	}
	seen := map[string]int{} // asset tag, make and serial, IMEI: the line that has it
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			line := 0
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, fileProblem("cannot be read at line %d: %v", line, csvErr(err))
		}
		line, _ := r.FieldPos(0)
		if len(plan.Rows) == MaxImportRows {
			return nil, fileProblem("has more than %d devices: split it", MaxImportRows)
		}
		row := ImportRow{Line: line, Values: map[string]string{}}
		if len(rec) != len(cols) {
			row.Problems.Add("row", fmt.Sprintf("has %d values; the header names %d columns", len(rec), len(cols)))
		}
		for i, v := range rec {
			if i < len(cols) {
				row.Values[cols[i]] = strings.TrimSpace(v)
			}
		}
		checkRow(&row)
		for _, key := range []struct{ field, value string }{
			{"asset_tag", row.Values["asset_tag"]},
			{"serial", strings.ToLower(row.Values["make"]) + "\x00" + row.Values["serial"]},
			{"imei", row.Values["imei"]},
		} {
			if strings.HasSuffix(key.value, "\x00") || key.value == "" {
				continue
			}
			if first, ok := seen[key.field+"\x00"+key.value]; ok {
				row.Problems.Add(key.field, fmt.Sprintf("is the same as on line %d", first))
			} else {
				seen[key.field+"\x00"+key.value] = line
			}
		}
		plan.Rows = append(plan.Rows, row)
	}
	if len(plan.Rows) == 0 {
		return nil, fileProblem("has no devices: the first line names the columns, each further line is a device")
	}
	return plan, nil
}

// checkRow turns a row's values into its device input and checks it as
// CreateDevice would, but for its funding source, which needs the
// database.
func checkRow(row *ImportRow) {
	v := row.Values
	for name, value := range v {
		if len(value) > maxImportField {
			row.Problems.Add(name, fmt.Sprintf("is %d bytes long; far too long for any column", len(value)))
			v[name] = clip(value, 200)
		}
	}
	kind := Kind(v["kind"])
	in := DeviceInput{Kind: &kind}
	for field, dst := range map[string]**string{"make": &in.Make, "model": &in.Model, "serial": &in.Serial,
		"imei": &in.IMEI, "asset_tag": &in.AssetTag, "condition": &in.Condition, "notes": &in.Notes} {
		s := v[field]
		*dst = &s
	}
	if s, ok := v["funding_source"]; ok {
		in.FundingSource = &s
	}
	if s := v["purchase_cost"]; s != "" {
		cents, ok := ParseDollars(s)
		row.Problems.Check(!ok, "purchase_cost", "must be an amount in dollars, such as 189.99")
		in.PurchaseCostCents = &cents
	}
	if s := v["accessories"]; s != "" {
		acc := []Accessory{}
		for _, name := range strings.Split(s, ";") {
			if name = strings.TrimSpace(name); name != "" {
				acc = append(acc, Accessory{Name: name})
			}
		}
		in.Accessories = &acc
	}
	row.Input = in
	var d Device
	if err := in.apply(&d); err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			for field, problem := range ae.Fields {
				if strings.HasPrefix(field, "accessories[") {
					field = "accessories"
				}
				row.Problems.Add(field, problem)
			}
		}
	}
	row.Problems.Check(d.AssetTag == "" && d.Serial == "", "serial",
		"a serial number or an asset tag is required, so that the same device is never imported twice")
}

// ParseDollars reads an amount such as 189.99, 189 or 1,189.50 as cents.
func ParseDollars(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimPrefix(s, "$"), ",", "")
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || (dot && frac == "") || len(whole) > 9 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseUint(whole, 10, 64)
	f, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return int64(w*100 + f), true
}

func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func columnNames() string {
	names := make([]string, len(ImportColumns))
	for i, c := range ImportColumns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// PreviewImport reads and checks an import file (ParseImport), then each
// row against the pool: its funding source must exist, and its asset tag,
// serial and IMEI must be no device's yet. Nothing is saved.
func (s *Service) PreviewImport(ctx context.Context, actor *accounts.Actor, data []byte) (*ImportPlan, error) {
	plan, err := ParseImport(data)
	if err != nil {
		return nil, err
	}
	if err := s.checkAgainstPool(ctx, s.DB, plan); err != nil {
		return nil, err
	}
	if plan.Invalid() > 0 || plan.AllExisting() {
		return plan, nil // nothing to confirm
	}
	// Kept for its confirmation; those left unconfirmed go after a day.
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*pendingImport)(nil)).Where("created_at < ?", s.now().Add(-PendingImportLifetime)).Exec(ctx); err != nil {
			return err
		}
		p := &pendingImport{CreatedBy: actor.ID, Digest: plan.Digest, Content: data, CreatedAt: s.now()}
		if _, err := tx.NewInsert().Model(p).Exec(ctx); err != nil {
			return err
		}
		plan.ID = p.ID
		return nil
	})
	return plan, storage.Err(err, "import")
}

// errNoPendingImport answers a confirmation whose preview is not the
// actor's, or has gone.
var errNoPendingImport = fileProblem("the preview is gone (a preview waits a day) or is not yours: upload the file again")

// pendingImportOf loads the actor's pending import id, locked when lock.
func (s *Service) pendingImportOf(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64, lock bool) (*pendingImport, error) {
	p := new(pendingImport)
	q := db.NewSelect().Model(p).Where("di.id = ? AND di.created_by = ? AND di.created_at >= ?", id, actor.ID, s.now().Add(-PendingImportLifetime))
	if err := storage.LockedIf(q, lock).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNoPendingImport
		}
		return nil, storage.Err(err, "import")
	}
	return p, nil
}

// PendingImportPlan is the plan of the actor's pending import id as the
// pool stands now, to show again what stopped its import.
func (s *Service) PendingImportPlan(ctx context.Context, actor *accounts.Actor, id int64) (*ImportPlan, error) {
	p, err := s.pendingImportOf(ctx, s.DB, actor, id, false)
	if err != nil {
		return nil, err
	}
	plan, err := ParseImport(p.Content)
	if err != nil {
		return nil, err
	}
	plan.ID = p.ID
	return plan, s.checkAgainstPool(ctx, s.DB, plan)
}

func (s *Service) checkAgainstPool(ctx context.Context, db bun.IDB, plan *ImportPlan) error {
	var tags, serials, imeis []string
	for _, r := range plan.Rows {
		tags, serials, imeis = appendSet(tags, r.Values["asset_tag"]), appendSet(serials, r.Values["serial"]), appendSet(imeis, r.Values["imei"])
	}
	var existing []Device
	q := db.NewSelect().Model(&existing).Column("asset_tag", "make", "serial", "imei")
	if len(tags)+len(serials)+len(imeis) > 0 {
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for col, vals := range map[string][]string{"asset_tag": tags, "serial": serials, "imei": imeis} {
				if len(vals) > 0 {
					q.WhereOr("d."+col+" IN (?)", bun.In(vals))
				}
			}
			return q
		})
		if err := q.Scan(ctx); err != nil {
			return storage.Err(err, "devices")
		}
	}
	for i := range plan.Rows {
		r := &plan.Rows[i]
		v := r.Values
		for _, d := range existing {
			tag := v["asset_tag"] != "" && d.AssetTag == v["asset_tag"]
			serial := v["serial"] != "" && d.Serial == v["serial"] && strings.EqualFold(d.Make, v["make"])
			if tag {
				r.Problems.Add("asset_tag", "is already device "+d.AssetTag+"’s")
			}
			if serial {
				r.Problems.Add("serial", "is already device "+d.AssetTag+"’s, of the same make")
			}
			if v["imei"] != "" && d.IMEI == v["imei"] {
				r.Problems.Add("imei", "is already device "+d.AssetTag+"’s")
			}
			r.Existing = r.Existing || tag || serial
		}
		if r.Input.FundingSource != nil && *r.Input.FundingSource != "" {
			var d Device
			var ae *apperr.Error
			if err := s.fundDevice(ctx, db, DeviceInput{FundingSource: r.Input.FundingSource}, &d); errors.As(err, &ae) && ae.Code == apperr.Invalid {
				r.Problems.Add("funding_source", "no funding source is named “"+clip(*r.Input.FundingSource, 60)+"” (an admin adds them)")
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

func appendSet(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// ErrAlreadyImported is the answer to an import of a file whose every
// device is in the pool already: it was imported before.
var ErrAlreadyImported = apperr.New(apperr.Conflict, "this file was imported already: every device in it is in the pool; nothing was saved again")

// ImportDevices saves every device of the actor's pending import id, the
// file its preview kept, in one transaction, and marks it imported: all of them, or none when any
// row has a problem (an Invalid error naming the rows), when another
// device took a row's tag or serial since the preview (the row is named),
// or when the file was imported already (ErrAlreadyImported).
func (s *Service) ImportDevices(ctx context.Context, actor *accounts.Actor, id int64) ([]Device, error) {
	var devices []Device
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		// The pending import's row lock orders two confirmations of it:
		// the second finds it imported.
		pending, err := s.pendingImportOf(ctx, tx, actor, id, true)
		if err != nil {
			return err
		}
		if pending.ImportedAt != nil {
			return ErrAlreadyImported
		}
		plan, err := ParseImport(pending.Content)
		if err != nil {
			return err
		}
		var kinds []Kind
		for _, r := range plan.Rows {
			if oneOf(*r.Input.Kind, Kinds) {
				kinds = append(kinds, *r.Input.Kind)
			}
		}
		if err := s.lockKinds(ctx, tx, kinds...); err != nil {
			return err
		}
		if err := s.checkAgainstPool(ctx, tx, plan); err != nil {
			return err
		}
		if plan.AllExisting() {
			return ErrAlreadyImported
		}
		if n := plan.Invalid(); n > 0 {
			return rowsProblem(plan)
		}
		devices = make([]Device, len(plan.Rows))
		for i, r := range plan.Rows {
			d := &devices[i]
			d.Status = Available
			if err := apperr.Join(r.Input.apply(d), s.fundDevice(ctx, tx, r.Input, d)); err != nil {
				return err
			}
			if err := s.insertDevice(ctx, tx, actor, d); err != nil {
				var ae *apperr.Error
				if errors.As(err, &ae) && ae.Code == apperr.Conflict {
					return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("line %d: %s; nothing was imported", r.Line, ae.Message), Fields: ae.Fields}
				}
				return err
			}
		}
		slices.Sort(kinds)
		for _, k := range slices.Compact(kinds) {
			if err := s.freed(ctx, tx, actor, k); err != nil {
				return err
			}
		}
		res, err := tx.NewUpdate().Model(pending).Set("imported_at = ?", s.now()).WherePK().Where("imported_at IS NULL").Exec(ctx)
		if err != nil {
			return storage.Err(err, "import")
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrAlreadyImported
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return devices, nil
}

// rowsProblem is the Invalid error of a plan with bad rows: each bad
// row's problems, by line.
func rowsProblem(plan *ImportPlan) error {
	var lines []string
	for _, r := range plan.Rows {
		if len(r.Problems) == 0 {
			continue
		}
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(r.Problems)) {
			parts = append(parts, f+" "+r.Problems[f])
		}
		lines = append(lines, fmt.Sprintf("line %d: %s", r.Line, strings.Join(parts, "; ")))
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "nothing was imported: " + strings.Join(lines, "; ")}
}
