package reports

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
)

// scope is what a report counts: the devices (and data plans) of some
// funding sources or all, of a kind or all; the clients whose postal code
// starts with a prefix, or all.
type scope struct {
	sources []int64 // nil: every source
	kind    string
	postal  string
	// postalWhere and postalArgs are the condition on clients c for the
	// prefix (clients.Service.PostalMatch: postal codes are sealed).
	postalWhere string
	postalArgs  []any
}

func newScope(ctx context.Context, sources []FundingSource, kind, postal string, cl *clients.Service) (scope, error) {
	sc := scope{kind: kind, postal: postal}
	if postal != "" {
		var err error
		if sc.postalWhere, sc.postalArgs, err = cl.PostalMatch(ctx, postal); err != nil {
			return sc, err
		}
	}
	if sources != nil {
		sc.sources = make([]int64, len(sources))
		for i, f := range sources {
			sc.sources[i] = f.ID
		}
	}
	return sc, nil
}

// devices is the condition on devices d.
func (sc scope) devices() (string, []any) {
	w, args := []string{"1 = 1"}, []any{}
	if sc.sources != nil {
		w, args = append(w, "d.funding_source_id IN (?)"), append(args, bun.In(sc.sources))
	}
	if sc.kind != "" {
		w, args = append(w, "d.kind = ?"), append(args, sc.kind)
	}
	return strings.Join(w, " AND "), args
}

// clients is the condition on clients c.
func (sc scope) clients() (string, []any) {
	if sc.postal == "" {
		return "1 = 1", nil
	}
	return sc.postalWhere, sc.postalArgs
}

// loans is the condition on loans l joined to their device d and client c.
func (sc scope) loans() (string, []any) {
	dw, da := sc.devices()
	cw, ca := sc.clients()
	return dw + " AND " + cw, append(da, ca...)
}

// all reports whether the scope is everything: no source, kind or postal
// prefix.
func (sc scope) all() bool { return sc.sources == nil && sc.kind == "" && sc.postal == "" }

// deviceJoin joins the device d of a row whose device is col, when the
// scope narrows the devices. Every row has its device (a foreign key, not
// null), so without a condition on d the join would only cost time.
func (sc scope) deviceJoin(col string) string {
	if sc.sources == nil && sc.kind == "" {
		return ""
	}
	return " JOIN devices d ON d.id = " + col
}

// clientJoin joins the client c of a row whose client is col, when the
// scope narrows the clients (as deviceJoin).
func (sc scope) clientJoin(col string) string {
	if sc.postal == "" {
		return ""
	}
	return " JOIN clients c ON c.id = " + col
}

// loanJoins joins a loan l to its device d and client c, as the scope
// needs them.
func (sc scope) loanJoins() string {
	return sc.deviceJoin("l.device_id") + sc.clientJoin("l.client_id") + " "
}

// closedAt is when a loan ended: returned, or reported lost.
const closedAt = "COALESCE(l.returned_at, l.lost_at)"

// month is one calendar month of the period, cut to the period.
type month struct {
	label      string    // "2026-03"
	start, end time.Time // [start, end)
	first      calendar.Date
	last       calendar.Date
}

// computation fills one report.
type computation struct {
	db *storage.DB
	// conn is what a section's statements run on: the database, or on
	// PostgreSQL the section's own transaction.
	conn       bun.IDB
	report     *Report
	scope      scope
	requests   *eligibility.Service
	start, end time.Time // the period, [start, end)
	to         calendar.Date
	now        time.Time
	loc        *time.Location
	months     []month
}

func (c *computation) pg() bool { return c.db.Engine == storage.Postgres }

// days is the number of days (with fractions) from timestamp a to b.
func (c *computation) days(a, b string) string {
	if c.pg() {
		// date_part answers a double, where EXTRACT answers a numeric,
		// whose arithmetic cost twice the time over a year's loans.
		return "(date_part('epoch', (" + b + ") - (" + a + ")) / 86400)"
	}
	return "(julianday(" + b + ") - julianday(" + a + "))"
}

func (c *computation) greatest(a, b string) string {
	if c.pg() {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "MAX(" + a + ", " + b + ")"
}

func (c *computation) least(a, b string) string {
	if c.pg() {
		return "LEAST(" + a + ", " + b + ")"
	}
	return "MIN(" + a + ", " + b + ")"
}

// ts is a timestamp parameter, typed where PostgreSQL cannot tell.
func (c *computation) ts() string {
	if c.pg() {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}

// date is a date parameter, typed where PostgreSQL cannot tell.
func (c *computation) date(expr string) string {
	if c.pg() {
		return "CAST(" + expr + " AS DATE)"
	}
	return expr
}

// jsonText reads one string at a path of a JSON text column.
func (c *computation) jsonText(col string, path ...string) string {
	if c.pg() {
		q := col + "::jsonb"
		for i, p := range path {
			op := "->"
			if i == len(path)-1 {
				op = "->>"
			}
			q += " " + op + " '" + p + "'"
		}
		return "(" + q + ")"
	}
	return "json_extract(" + col + ", '$." + strings.Join(path, ".") + "')"
}

// monthsTable is a derived table of the period's months (label, ms, me,
// first, last), with its arguments.
func (c *computation) monthsTable() (string, []any) {
	var parts []string
	var args []any
	for _, m := range c.months {
		parts = append(parts, "SELECT ? AS label, "+c.ts()+" AS ms, "+c.ts()+" AS me, "+c.date("?")+" AS first_day, "+c.date("?")+" AS last_day")
		args = append(args, m.label, m.start, m.end, m.first, m.last)
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ")", args
}

// periodMonths cuts [from, to] into calendar months.
func periodMonths(from, to calendar.Date, loc *time.Location) []month {
	var out []month
	for first := (calendar.Date{Year: from.Year, Month: from.Month, Day: 1}); !to.Before(first); first = first.AddMonths(1) {
		last := first.AddMonths(1).AddDays(-1)
		m := month{label: fmt.Sprintf("%04d-%02d", first.Year, int(first.Month)), first: first, last: last}
		if first.Before(from) {
			m.first = from
		}
		if to.Before(last) {
			m.last = to
		}
		m.start, m.end = dayStart(m.first, loc), dayStart(m.last.AddDays(1), loc)
		out = append(out, m)
	}
	return out
}

// ReportConnections is how many of a report's sections run at once on
// PostgreSQL, each in a transaction of its own whose statements PostgreSQL
// does not split among parallel workers: the sections are the report's
// parallelism, and more processes than the server's cores only take turns
// (measured in docs/PERFORMANCE.md: two sections at once and no workers,
// 1.6 s; four and PostgreSQL's workers, 2.7 s).
const ReportConnections = 2

// run computes every section.
func (c *computation) run(ctx context.Context) error {
	c.months = periodMonths(c.report.Period.From, c.report.Period.To, c.loc)
	for i := range c.months { // cut to now, when the period has not ended
		m := &c.months[i]
		if m.end.After(c.end) {
			m.end = c.end
		}
		if m.start.After(m.end) {
			m.start = m.end
		}
	}
	// The parts are independent but for connectivity, which divides by
	// the clients served. On PostgreSQL they run at once, each on its own
	// connection; SQLite, one file, takes them one after the other.
	sections := []func(*computation, context.Context) error{(*computation).pool, (*computation).useMonths,
		(*computation).useCounts, (*computation).loanDays, (*computation).overdueRecovery, (*computation).people,
		(*computation).access, (*computation).training}
	if c.pg() {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(ReportConnections)
		for _, step := range sections {
			g.Go(func() error {
				return storage.InTx(gctx, c.db, func(tx bun.Tx) error {
					if _, err := tx.ExecContext(gctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
						return storage.Err(err, "report")
					}
					section := *c // the same report, written by each section in its own fields
					section.conn = tx
					return step(&section, gctx)
				})
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		sections = nil
	}
	for _, step := range append(sections, (*computation).connectivity) {
		if err := step(c, ctx); err != nil {
			return err
		}
	}
	return nil
}

// empty fills a report with nothing counted: every figure 0, every
// breakdown with its rows and nothing in them.
func (c *computation) empty() {
	r := c.report
	c.months = periodMonths(r.Period.From, r.Period.To, c.loc)
	zero := Count(0)
	r.Pool = Pool{DevicesAtEnd: zero, ByKind: []KindStatus{}, Added: zero, Retired: zero, Lost: zero}
	r.Use = Use{LoansIssued: zero, LoansReturned: zero, Renewals: zero, LoansLost: zero, OverdueAtEnd: zero,
		UtilizationRate: Rate(0), LoanDaysMedian: Figure{Hidden: true}, LoanDaysP90: Figure{Hidden: true},
		OverdueRecoveryRate: Figure{Hidden: true}}
	for _, m := range c.months {
		r.Use.ByMonth = append(r.Use.ByMonth, MonthLoans{Month: m.label, Issued: zero, Returned: zero, Utilization: Rate(0)})
	}
	r.People = People{ClientsServed: zero, NewClients: zero, ReturningClients: zero, Households: zero, ByNeed: []NeedCount{}}
	for _, b := range AgeBands {
		r.People.ByAgeBand = append(r.People.ByAgeBand, AgeBandRow{Band: b, Clients: zero})
	}
	r.Access = Access{RequestsReceived: zero, Approved: zero, Denied: zero, DeniedByRule: []RuleDenials{}, Waitlisted: zero,
		DaysToDeviceMedian: Figure{Hidden: true}, WaitlistAtEnd: zero}
	r.Training = Training{SessionsHeld: zero, Enrollments: zero, AttendanceRate: Figure{Hidden: true}, HoursDelivered: Count(0), ModulesCompleted: zero}
	r.Connectivity = Connectivity{DataPlanMonths: zero, DataPlanCostCents: zero, CostPerClientServedCents: Figure{Hidden: true}}
}

// scan runs a query and scans its rows with fn.
func (c *computation) scan(ctx context.Context, what, query string, args []any, fn func(rows *sql.Rows) error) error {
	conn := c.conn
	if conn == nil {
		conn = c.db
	}
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return storage.Err(err, what)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return storage.Err(err, what)
		}
	}
	return storage.Err(rows.Err(), what)
}

// count runs a query answering one number.
func (c *computation) count(ctx context.Context, what, query string, args ...any) (int64, error) {
	var n sql.NullFloat64
	err := c.scan(ctx, what, query, args, func(rows *sql.Rows) error { return rows.Scan(&n) })
	return int64(math.Round(n.Float64)), err
}

// statuses are the device statuses by_kind counts, in its order.
var statuses = []string{"available", "on_loan", "inspection", "repair", "lost", "retired"}

func (c *computation) pool(ctx context.Context) error {
	dw, da := c.scope.devices()
	byKind := map[string]map[string]int64{}
	add := func(sign int64) func(rows *sql.Rows) error {
		return func(rows *sql.Rows) error {
			var kind string
			var status sql.NullString
			var n int64
			if err := rows.Scan(&kind, &status, &n); err != nil || !status.Valid {
				return err
			}
			if byKind[kind] == nil {
				byKind[kind] = map[string]int64{}
			}
			byKind[kind][status.String] += sign * n
			return nil
		}
	}
	// A device's status at the end is its status now, unless it moved
	// since: the devices taken in before the end are counted by their
	// status now, and those with a change since (few, for a recent period)
	// are moved back to their last status before the end, read from the
	// index on their history. Both are written in one transaction.
	err := c.scan(ctx, "pool", `SELECT d.kind, d.status, COUNT(*) FROM devices d WHERE `+dw+` AND d.created_at < ?
		GROUP BY d.kind, d.status`, append(da, c.end), add(1))
	if err != nil {
		return err
	}
	since := `FROM devices d WHERE ` + dw + ` AND d.created_at < ? AND d.id IN (SELECT h.device_id FROM device_status_changes h WHERE h.changed_at >= ?)`
	err = c.scan(ctx, "pool", `SELECT d.kind, d.status, COUNT(*) `+since+` GROUP BY d.kind, d.status`, append(da, c.end, c.end), add(-1))
	if err != nil {
		return err
	}
	err = c.scan(ctx, "pool", `WITH x AS MATERIALIZED (SELECT d.kind,
			(SELECT h.status FROM device_status_changes h WHERE h.device_id = d.id AND h.changed_at < ?
				ORDER BY h.changed_at DESC, h.id DESC LIMIT 1) AS status
		`+since+`)
		SELECT x.kind, x.status, COUNT(*) FROM x GROUP BY x.kind, x.status`, append(append([]any{c.end}, da...), c.end, c.end), add(1))
	if err != nil {
		return err
	}
	p := &c.report.Pool
	p.ByKind = []KindStatus{}
	var inService int64
	for _, kind := range Kinds {
		n, ok := byKind[kind]
		if !ok {
			continue
		}
		p.ByKind = append(p.ByKind, KindStatus{Kind: kind, Available: Count(n["available"]), OnLoan: Count(n["on_loan"]),
			Inspection: Count(n["inspection"]), Repair: Count(n["repair"]), Lost: Count(n["lost"]), Retired: Count(n["retired"])})
		inService += n["available"] + n["on_loan"] + n["inspection"] + n["repair"]
	}
	p.DevicesAtEnd = Count(inService)
	added, err := c.count(ctx, "pool", `SELECT COUNT(*) FROM devices d WHERE `+dw+` AND d.created_at >= ? AND d.created_at < ?`,
		append(da, c.start, c.end)...)
	if err != nil {
		return err
	}
	p.Added = Count(added)
	for _, s := range []struct {
		status string
		into   *Figure
	}{{"retired", &p.Retired}, {"lost", &p.Lost}} {
		n, err := c.count(ctx, "pool", `SELECT COUNT(DISTINCT h.device_id) FROM device_status_changes h`+c.scope.deviceJoin("h.device_id")+`
			WHERE `+dw+` AND h.status = ? AND h.changed_at >= ? AND h.changed_at < ?`, append(da, s.status, c.start, c.end)...)
		if err != nil {
			return err
		}
		*s.into = Count(n)
	}
	return nil
}

// useMonths counts the loans issued and returned in each month, and the
// utilization.
func (c *computation) useMonths(ctx context.Context) error {
	u := &c.report.Use
	byMonth := map[string]*MonthLoans{}
	for _, m := range c.months {
		ml := MonthLoans{Month: m.label, Issued: Count(0), Returned: Count(0), Utilization: Rate(0)}
		u.ByMonth = append(u.ByMonth, ml)
	}
	for i := range u.ByMonth {
		byMonth[u.ByMonth[i].Month] = &u.ByMonth[i]
	}
	issuedIn, err := c.monthSums(ctx, "l.issued_at")
	if err != nil {
		return err
	}
	returnedIn, err := c.monthSums(ctx, "l.returned_at")
	if err != nil {
		return err
	}
	var issued, returned int64
	for _, m := range c.months {
		byMonth[m.label].Issued, issued = Count(issuedIn[m.label].n), issued+issuedIn[m.label].n
		byMonth[m.label].Returned, returned = Count(returnedIn[m.label].n), returned+returnedIn[m.label].n
	}
	u.LoansIssued, u.LoansReturned = Count(issued), Count(returned)
	return c.utilization(ctx, issuedIn, returnedIn)
}

// useCounts counts the loans lost, the renewals and the loans overdue at
// the end.
func (c *computation) useCounts(ctx context.Context) error {
	u := &c.report.Use
	lw, la := c.scope.loans()
	lost, err := c.count(ctx, "loans", `SELECT COUNT(*) FROM loans l`+c.scope.loanJoins()+`WHERE `+lw+` AND l.lost_at >= ? AND l.lost_at < ?`,
		append(la, c.start, c.end)...)
	if err != nil {
		return err
	}
	u.LoansLost = Count(lost)
	// The renewals' loans are read only to scope them.
	ofLoans, renewalArgs := "", []any{c.start, c.end}
	if !c.scope.all() {
		ofLoans = ` AND e.loan_id IN (SELECT l.id FROM loans l` + c.scope.loanJoins() + `WHERE ` + lw + `)`
		renewalArgs = append(renewalArgs, la...)
	}
	renewals, err := c.count(ctx, "renewals", `SELECT COUNT(*) FROM audit_events e
		WHERE e.action = 'loan.renewed' AND e.occurred_at >= ? AND e.occurred_at < ?`+ofLoans, renewalArgs...)
	if err != nil {
		return err
	}
	u.Renewals = Count(renewals)

	// Overdue at the end: open then, and due before the last day, by the
	// due date as it stood then (a later renewal's "from").
	dueThen := "COALESCE(" + c.date("(SELECT "+c.jsonText("e.changes", "due_on", "from")+` FROM audit_events e
		WHERE e.loan_id = l.id AND e.action = 'loan.renewed' AND e.occurred_at >= ? ORDER BY e.occurred_at, e.id LIMIT 1)`) + ", l.due_on)"
	overdue, err := c.count(ctx, "loans", `SELECT COUNT(*) FROM loans l`+c.scope.loanJoins()+`WHERE `+lw+` AND l.issued_at < ?
		AND (`+closedAt+` IS NULL OR `+closedAt+` >= ?) AND `+dueThen+` < `+c.date("?"),
		append(la, c.end, c.end, c.end, c.to)...)
	if err != nil {
		return err
	}
	u.OverdueAtEnd = Count(overdue)
	return nil
}

// monthSum is, for the loans whose moment (an issue, a return) fell in a
// month, how many they were and the days from the month's start to them.
type monthSum struct {
	n    int64
	days float64
}

// monthSums sums, in each month of the period, the loans in scope whose
// moment at falls in it (and that meet the further conditions also); each
// month reads its loans by the index on at.
func (c *computation) monthSums(ctx context.Context, at string, also ...string) (map[string]monthSum, error) {
	lw, la := c.scope.loans()
	for _, cond := range also {
		lw += " AND " + cond
	}
	mt, ma := c.monthsTable()
	sums := map[string]monthSum{}
	err := c.scan(ctx, "loans", `SELECT m.label, COUNT(*), SUM(`+c.days("m.ms", at)+`) FROM `+mt+` m JOIN loans l ON `+at+` >= m.ms AND `+at+` < m.me`+
		c.scope.loanJoins()+`WHERE `+lw+` GROUP BY m.label`, append(append([]any{}, ma...), la...), func(rows *sql.Rows) error {
		var label string
		var s monthSum
		var days sql.NullFloat64
		if err := rows.Scan(&label, &s.n, &days); err != nil {
			return err
		}
		s.days = days.Float64
		sums[label] = s
		return nil
	})
	return sums, err
}

// utilization is device-days on loan over device-days in service, in the
// period and in each month; issued and returned are the period's issues and returns by month.
//
// Device-days on loan are each loan's time from its issue to its return or
// loss (or the end of the period), cut to each month. Rather than joining
// every loan to every month, each month's sum is made from the loans
// issued and closed in it (read by index) and those open at its start:
// a loan's time in [ms, me) is clamp(closed) - clamp(issued), clamping to
// [ms, me), so the month's sum is the days from ms to its closes, less the
// days from ms to its issues, plus (me - ms) for each loan open at me.
func (c *computation) utilization(ctx context.Context, issued, returned map[string]monthSum) error {
	u := &c.report.Use
	lw, la := c.scope.loans()
	// A loan closes at its return, or at its loss if never returned: the
	// returns are counted already, the losses are few (read by their own
	// index).
	lostIn, err := c.monthSums(ctx, "l.lost_at", "l.returned_at IS NULL")
	if err != nil {
		return err
	}
	closed := map[string]monthSum{}
	for _, m := range c.months {
		r, l := returned[m.label], lostIn[m.label]
		closed[m.label] = monthSum{n: r.n + l.n, days: r.days + l.days}
	}
	// Open at the start: issued before it, less those closed before it
	// (returned, or lost and never returned), each part counted from its
	// own index alone.
	var parts []string
	var partArgs []any
	for _, part := range []struct{ count, cond string }{{"COUNT(*)", "l.issued_at < ?"}, {"-COUNT(*)", "l.returned_at < ?"},
		{"-COUNT(*)", "l.lost_at < ? AND l.returned_at IS NULL"}} {
		parts = append(parts, `SELECT `+part.count+` AS n FROM loans l`+c.scope.loanJoins()+`WHERE `+lw+` AND `+part.cond)
		partArgs = append(append(partArgs, la...), c.start)
	}
	open, err := c.count(ctx, "utilization", `SELECT SUM(p.n) FROM (`+strings.Join(parts, " UNION ALL ")+`) p`, partArgs...)
	if err != nil {
		return err
	}
	onLoan := map[string]float64{}
	for _, m := range c.months {
		in, out := issued[m.label], closed[m.label]
		open += in.n - out.n // open at the month's end
		onLoan[m.label] = out.days - in.days + float64(open)*m.end.Sub(m.start).Hours()/24
	}

	// Device-days in service: each device's time from its first status to
	// the end of the period, less its time retired or lost (from such a
	// status until the next, or the end). Few devices are ever retired or
	// lost, so this reads the devices and a few intervals, rather than
	// every status a device was in.
	dw, da := c.scope.devices()
	mt, ma := c.monthsTable()
	inService, firsts := map[string]float64{}, map[string]monthSum{}
	// A device is in service from its first status, written when it is
	// taken in (inventory records it at the device's created_at, and
	// migration 0016 wrote it so for the devices before it): in a month,
	// for all of it if that came before, else from then to the month's end.
	var existing int64 // devices taken in before the month
	err = c.scan(ctx, "utilization", `SELECT CAST(NULL AS TEXT), COUNT(*), 0 FROM devices d WHERE `+dw+` AND d.created_at < ?
		UNION ALL
		SELECT m.label, COUNT(*), SUM(`+c.days("d.created_at", "m.me")+`) FROM `+mt+` m
		JOIN devices d ON d.created_at >= m.ms AND d.created_at < m.me WHERE `+dw+` GROUP BY m.label`,
		append(append(append([]any{}, da...), c.start), append(ma, da...)...), func(rows *sql.Rows) error {
			var label sql.NullString
			var s monthSum
			var days sql.NullFloat64
			if err := rows.Scan(&label, &s.n, &days); err != nil {
				return err
			}
			if !label.Valid {
				existing = s.n
			} else {
				s.days = days.Float64
				firsts[label.String] = s
			}
			return nil
		})
	if err != nil {
		return err
	}
	for _, m := range c.months {
		inService[m.label] += float64(existing)*m.end.Sub(m.start).Hours()/24 + firsts[m.label].days
		existing += firsts[m.label].n
	}
	next := `(SELECT n.changed_at FROM device_status_changes n WHERE n.device_id = h.device_id AND n.changed_at < ?
		AND (n.changed_at > h.changed_at OR (n.changed_at = h.changed_at AND n.id > h.id)) ORDER BY n.changed_at, n.id LIMIT 1)`
	err = c.scan(ctx, "utilization", `WITH x AS MATERIALIZED (SELECT h.changed_at AS since, COALESCE(`+next+`, `+c.ts()+`) AS until
			FROM device_status_changes h`+c.scope.deviceJoin("h.device_id")+` WHERE `+dw+` AND h.status IN ('retired', 'lost') AND h.changed_at < ?)
		SELECT m.label, SUM(`+c.days(c.greatest("x.since", "m.ms"), c.least("x.until", "m.me"))+`) FROM `+mt+` m
		JOIN x ON x.since < m.me AND x.until > m.ms GROUP BY m.label`,
		append(append(append([]any{c.end, c.end}, da...), c.end), ma...), func(rows *sql.Rows) error {
			var label string
			var out sql.NullFloat64
			if err := rows.Scan(&label, &out); err != nil {
				return err
			}
			inService[label] -= out.Float64
			return nil
		})
	if err != nil {
		return err
	}
	var loaned, served float64
	for i := range u.ByMonth {
		m := &u.ByMonth[i]
		if in := inService[m.Month]; in > 0 {
			m.Utilization = Rate(min(1, onLoan[m.Month]/in))
		}
		loaned, served = loaned+onLoan[m.Month], served+inService[m.Month]
	}
	u.UtilizationRate = Rate(0)
	if served > 0 {
		u.UtilizationRate = Rate(min(1, loaned/served))
	}
	return nil
}

// loanDays is the median and 90th percentile of the days loans returned
// in the period lasted.
func (c *computation) loanDays(ctx context.Context) error {
	lw, la := c.scope.loans()
	f, err := c.percentiles(ctx, "loans", `SELECT `+c.days("l.issued_at", "l.returned_at")+` AS x, l.client_id AS person FROM loans l`+c.scope.loanJoins()+
		`WHERE `+lw+` AND l.returned_at >= ? AND l.returned_at < ?`, append(la, c.start, c.end), 0.5, 0.9)
	if err != nil {
		return err
	}
	c.report.Use.LoanDaysMedian, c.report.Use.LoanDaysP90 = f[0], f[1]
	return nil
}

// percentiles are the nearest-rank percentiles ps (the value at position
// ceil(p * n) of the n values in order) of the days x the query selects,
// to one decimal, suppressed when the values are of fewer than MinPeople
// people (the query's column person, a client id).
//
// Rounding to tenths keeps the order of the values, so the percentile of
// the rounded values is the rounded percentile: the database counts the
// values by tenth of a day (a few thousand groups, where sorting every
// value cost more), and the ranks are walked here. Each tenth also names
// its lowest and highest person: MinPeople of them among those are enough
// (the usual case); fewer, and the people are counted.
func (c *computation) percentiles(ctx context.Context, what, query string, args []any, ps ...float64) ([]Figure, error) {
	// Halves are rounded away from zero, as SQLite's ROUND does; on
	// PostgreSQL, ROUND of a double rounds them to even.
	tenths := "ROUND(v.x * 10)"
	if c.pg() {
		tenths = "(SIGN(v.x) * FLOOR(ABS(v.x) * 10 + 0.5))"
	}
	type bucket struct {
		tenths float64
		n      int64
	}
	var buckets []bucket
	var total int64
	people := map[int64]bool{}
	err := c.scan(ctx, what, `SELECT `+tenths+`, COUNT(*), MIN(v.person), MAX(v.person) FROM (`+query+`) v GROUP BY `+tenths, args,
		func(rows *sql.Rows) error {
			var b bucket
			var value sql.NullFloat64
			var low, high int64
			if err := rows.Scan(&value, &b.n, &low, &high); err != nil {
				return err
			}
			people[low], people[high] = true, true
			if value.Valid {
				b.tenths = value.Float64
				buckets, total = append(buckets, b), total+b.n
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	enough := len(people) >= MinPeople
	if !enough && total > 0 {
		n, err := c.count(ctx, what, `SELECT COUNT(DISTINCT v.person) FROM (`+query+`) v`, args...)
		if err != nil {
			return nil, err
		}
		enough = n >= MinPeople
	}
	out := make([]Figure, len(ps))
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].tenths < buckets[j].tenths })
	for i, p := range ps {
		out[i] = Figure{Hidden: true}
		if !enough || total == 0 {
			continue
		}
		rank, seen := max(int64(math.Ceil(p*float64(total))), 1), int64(0)
		for _, b := range buckets {
			if seen += b.n; seen >= rank {
				out[i] = Rate(b.tenths / 10)
				break
			}
		}
	}
	return out, nil
}

// overdueRecovery is, of the loans overdue at some time in the period, the
// share returned by its end. A loan is overdue from the start of the day
// after its due date, in the agency's time zone, until it is returned or
// reported lost.
func (c *computation) overdueRecovery(ctx context.Context) error {
	lw, la := c.scope.loans()
	var overdue, recovered int
	people := map[int64]bool{}
	// Only loans still open after their due date (at midnight UTC, hours
	// before the overdue day starts anywhere) can have been overdue: the
	// others are left in the database.
	dueDay := "l.due_on"
	if c.pg() {
		dueDay = "(CAST(l.due_on AS TIMESTAMP) AT TIME ZONE 'UTC')"
	}
	err := c.scan(ctx, "loans", `SELECT l.due_on, l.returned_at, l.lost_at, l.client_id FROM loans l`+c.scope.loanJoins()+
		`WHERE `+lw+` AND l.issued_at < ? AND l.due_on < `+c.date("?")+` AND (`+closedAt+` IS NULL OR (`+closedAt+` > ? AND `+closedAt+` > `+dueDay+`))`,
		append(la, c.end, c.to, c.start), func(rows *sql.Rows) error {
			var due calendar.Date
			var returned, lost instant
			var person int64
			if err := rows.Scan(&due, &returned, &lost, &person); err != nil {
				return err
			}
			from := dayStart(due.AddDays(1), c.loc)
			until := c.end
			if returned.Valid {
				until = returned.Time
			} else if lost.Valid {
				until = lost.Time
			}
			if from.Before(c.end) && until.After(from) && until.After(c.start) {
				overdue++
				people[person] = true
				if returned.Valid && returned.Time.Before(c.end) {
					recovered++
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	c.report.Use.OverdueRecoveryRate = Figure{Hidden: true}
	if len(people) >= MinPeople {
		c.report.Use.OverdueRecoveryRate = Rate(float64(recovered) / float64(overdue))
	}
	return nil
}

func (c *computation) people(ctx context.Context) error {
	dw, da := c.scope.devices()
	cw, ca := c.scope.clients()
	p := &c.report.People
	needs := map[string]int64{}
	bands := map[string]int64{}
	// The clients with a loan in scope open during the period, with the
	// moment their first loan was ever issued (of any device, kept on the
	// client). They are counted in the database: in all, new (first issued
	// in the period) and by household (one's own when in none); then by
	// each distinct list of needs and date of birth, which are few, rather
	// than client by client.
	err := c.scan(ctx, "clients", `WITH s AS MATERIALIZED (SELECT c.id, c.household_id, c.birth_year, c.needs, c.first_loan_at AS first_issued
			FROM clients c
			WHERE `+cw+` AND c.id IN (SELECT l.client_id FROM loans l`+c.scope.deviceJoin("l.device_id")+`
				WHERE `+dw+` AND l.issued_at < ? AND (`+closedAt+` IS NULL OR `+closedAt+` >= ?)))
		SELECT 'all', NULL, COUNT(*), SUM(CASE WHEN s.first_issued >= ? AND s.first_issued < ? THEN 1 ELSE 0 END),
			COUNT(DISTINCT COALESCE(s.household_id, -s.id)) FROM s
		UNION ALL SELECT 'needs', s.needs, COUNT(*), 0, 0 FROM s GROUP BY s.needs
		UNION ALL SELECT 'born', CAST(s.birth_year AS TEXT), COUNT(*), 0, 0 FROM s GROUP BY s.birth_year`,
		append(append(ca, da...), c.end, c.start, c.start, c.end), func(rows *sql.Rows) error {
			var row string
			var value sql.NullString
			var n int64
			var newClients, households sql.NullInt64
			if err := rows.Scan(&row, &value, &n, &newClients, &households); err != nil {
				return err
			}
			switch row {
			case "all":
				p.ClientsServed, p.NewClients = Count(n), Count(newClients.Int64)
				p.ReturningClients, p.Households = Count(n-newClients.Int64), Count(households.Int64)
			case "needs":
				var codes []string
				if value.String != "" {
					if err := json.Unmarshal([]byte(value.String), &codes); err != nil {
						return fmt.Errorf("client needs: %w", err)
					}
				}
				for _, code := range codes {
					needs[code] += n
				}
			case "born":
				born := 0
				if value.Valid {
					var err error
					if born, err = strconv.Atoi(value.String); err != nil {
						return fmt.Errorf("client birth year: %w", err)
					}
				}
				bands[ageBand(born, c.to)] += n
			}
			return nil
		})
	if err != nil {
		return err
	}
	p.ByNeed = []NeedCount{}
	for _, n := range sortedKeys(needs) {
		p.ByNeed = append(p.ByNeed, NeedCount{Need: n, Clients: Count(needs[n])})
	}
	p.ByAgeBand = nil
	for _, b := range AgeBands {
		p.ByAgeBand = append(p.ByAgeBand, AgeBandRow{Band: b, Clients: Count(bands[b])})
	}
	return nil
}

// ageBand is the age band, on day on, of someone born in the year bornIn
// (0: not known).
func ageBand(bornIn int, on calendar.Date) string {
	if bornIn == 0 || bornIn > on.Time().Year() {
		return "unknown"
	}
	// The age reached in the year of on: a birth date is sealed, and only
	// its year is kept for counting.
	switch age := on.Time().Year() - bornIn; {
	case age < 18:
		return "under 18"
	case age < 25:
		return "18-24"
	case age < 45:
		return "25-44"
	case age < 65:
		return "45-64"
	default:
		return "65 and over"
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestScope is the condition on device requests r and their client c:
// the kind and the postal prefix (requests belong to no funding source).
func (c *computation) requestScope() (string, []any) {
	cw, ca := c.scope.clients()
	if c.scope.kind != "" {
		return cw + " AND r.device_kind = ?", append(ca, c.scope.kind)
	}
	return cw, ca
}

// StaffDecision is the rule by_rule names for a denial decided by staff.
const StaffDecision = "staff decision"

func (c *computation) access(ctx context.Context) error {
	a := &c.report.Access
	rw, ra := c.requestScope()
	from := ` FROM device_requests r` + c.scope.clientJoin("r.client_id") + ` WHERE ` + rw
	inPeriod := func(action string) string {
		return `EXISTS (SELECT 1 FROM audit_events e WHERE e.subject_type = 'device_request' AND e.subject_id = r.id
			AND e.action = '` + action + `' AND e.occurred_at >= ? AND e.occurred_at < ?)`
	}
	received, err := c.count(ctx, "requests", `SELECT COUNT(*)`+from+` AND r.created_at >= ? AND r.created_at < ?`, append(ra, c.start, c.end)...)
	if err != nil {
		return err
	}
	a.RequestsReceived = Count(received)
	for _, d := range []struct {
		outcome, action string
		into            *Figure
	}{{"eligible", "request.approved", &a.Approved}, {"ineligible", "request.denied", &a.Denied}} {
		n, err := c.count(ctx, "requests", `SELECT COUNT(*)`+from+` AND ((r.outcome = ? AND r.created_at >= ? AND r.created_at < ?) OR `+inPeriod(d.action)+`)`,
			append(ra, d.outcome, c.start, c.end, c.start, c.end)...)
		if err != nil {
			return err
		}
		*d.into = Count(n)
	}
	waitlisted, err := c.count(ctx, "requests", `SELECT COUNT(*)`+from+` AND `+inPeriod("request.waitlisted"), append(ra, c.start, c.end)...)
	if err != nil {
		return err
	}
	a.Waitlisted = Count(waitlisted)

	// Denied by rule: the rules that failed when a request was filed and
	// denied in the period, and staff's denials.
	byRule := map[string]int64{}
	err = c.scan(ctx, "requests", `SELECT r.id, r.decision`+from+` AND r.outcome = 'ineligible' AND r.created_at >= ? AND r.created_at < ?`,
		append(ra, c.start, c.end), func(rows *sql.Rows) error {
			var id int64
			var sealed string
			if err := rows.Scan(&id, &sealed); err != nil {
				return err
			}
			d, err := c.requests.Decision(id, sealed)
			if err != nil {
				return err
			}
			for _, rule := range d.Rules {
				if !rule.Passed && !rule.Unknown {
					byRule[rule.Rule]++
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	staff, err := c.count(ctx, "requests", `SELECT COUNT(*)`+from+` AND `+inPeriod("request.denied"), append(ra, c.start, c.end)...)
	if err != nil {
		return err
	}
	if staff > 0 {
		byRule[StaffDecision] = staff
	}
	a.DeniedByRule = []RuleDenials{}
	for _, rule := range sortedKeys(byRule) {
		a.DeniedByRule = append(a.DeniedByRule, RuleDenials{Rule: rule, Requests: Count(byRule[rule])})
	}

	// Days from filing to the device, for the loans of the period that
	// fulfilled a request.
	f, err := c.percentiles(ctx, "requests", `SELECT `+c.days("r.created_at", "l.issued_at")+` AS x, r.client_id AS person FROM device_requests r JOIN loans l ON l.id = r.loan_id`+
		c.scope.clientJoin("r.client_id")+` WHERE `+rw+` AND l.issued_at >= ? AND l.issued_at < ?`, append(ra, c.start, c.end), 0.5)
	if err != nil {
		return err
	}
	a.DaysToDeviceMedian = f[0]
	return c.waitlistAtEnd(ctx)
}

// requestStatusActions are the audit actions of a request's status
// changes, as eligibility writes them ("request." and the new status),
// with its filing.
const requestStatusActions = `('request.filed', 'request.approved', 'request.denied', 'request.waitlisted', 'request.ready', 'request.fulfilled', 'request.cancelled')`

// waitlistAtEnd counts the requests whose last status before the end of
// the period was "waitlisted".
//
// A request's status changes and the audit event of the change are written
// together, so a request with no status event since the end has the status
// it had then: those are counted by their status now (the few waiting, by
// the waitlist's index), and only the requests changed since (none, for a
// period that ends now) are looked up in their history.
func (c *computation) waitlistAtEnd(ctx context.Context) error {
	rw, ra := c.requestScope()
	from := ` FROM device_requests r` + c.scope.clientJoin("r.client_id") + ` WHERE ` + rw
	changedSince := `EXISTS (SELECT 1 FROM audit_events e WHERE e.subject_type = 'device_request' AND e.subject_id = r.id
		AND e.action IN ` + requestStatusActions + ` AND e.occurred_at >= ?)`
	n, err := c.count(ctx, "requests", `SELECT SUM(n) FROM (
		SELECT COUNT(*) AS n`+from+` AND r.status = 'waitlisted' AND r.created_at < ? AND NOT `+changedSince+`
		UNION ALL
		SELECT COUNT(*) AS n`+from+` AND r.created_at < ? AND r.id IN (SELECT e.subject_id FROM audit_events e
				WHERE e.subject_type = 'device_request' AND e.action IN `+requestStatusActions+` AND e.occurred_at >= ?)
			AND (SELECT e.action FROM audit_events e WHERE e.subject_type = 'device_request' AND e.subject_id = r.id AND e.occurred_at < ?
				AND e.action IN `+requestStatusActions+` ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1) = 'request.waitlisted') w`,
		append(append(append([]any{}, ra...), c.end, c.end), append(ra, c.end, c.end, c.end)...)...)
	if err != nil {
		return err
	}
	c.report.Access.WaitlistAtEnd = Count(n)
	return nil
}

func (c *computation) training(ctx context.Context) error {
	t := &c.report.Training
	held := ` training_sessions s WHERE s.status = 'scheduled' AND s.starts_at >= ? AND s.starts_at < ? AND s.starts_at < ?`
	heldArgs := []any{c.start, c.end, c.now}
	sessions, err := c.count(ctx, "training", `SELECT COUNT(*) FROM`+held, heldArgs...)
	if err != nil {
		return err
	}
	hours, err := c.countFloat(ctx, "training", `SELECT SUM(`+c.days("s.starts_at", "s.ends_at")+`) * 24 FROM`+held, heldArgs...)
	if err != nil {
		return err
	}
	t.SessionsHeld, t.HoursDelivered = Count(sessions), Rate(math.Round(hours*100)/100)
	cw, ca := c.scope.clients()
	var enrolled, attended, completed, people sql.NullInt64
	err = c.scan(ctx, "training", `SELECT COUNT(*), COUNT(DISTINCT en.client_id),
			SUM(CASE WHEN en.attendance IN ('present', 'late') THEN 1 ELSE 0 END),
			SUM(CASE WHEN en.module_completed THEN 1 ELSE 0 END)
		FROM training_enrollments en JOIN training_sessions s ON s.id = en.session_id`+c.scope.clientJoin("en.client_id")+`
		WHERE en.status = 'enrolled' AND s.status = 'scheduled' AND s.starts_at >= ? AND s.starts_at < ? AND s.starts_at < ? AND `+cw,
		append(heldArgs, ca...), func(rows *sql.Rows) error { return rows.Scan(&enrolled, &people, &attended, &completed) })
	if err != nil {
		return err
	}
	t.Enrollments, t.ModulesCompleted = Count(enrolled.Int64), Count(completed.Int64)
	t.AttendanceRate = Figure{Hidden: true}
	if people.Int64 >= MinPeople {
		t.AttendanceRate = Rate(float64(attended.Int64) / float64(enrolled.Int64))
	}
	return nil
}

// countFloat runs a query answering one number with fractions.
func (c *computation) countFloat(ctx context.Context, what, query string, args ...any) (float64, error) {
	var n sql.NullFloat64
	err := c.scan(ctx, what, query, args, func(rows *sql.Rows) error { return rows.Scan(&n) })
	return n.Float64, err
}

// connectivity counts the months each data plan was active in the period
// (a month counted in full when the plan was active on any day of it), and
// what they cost. With a kind or postal prefix filter, only the plans lent
// in the period on a loan it counts.
func (c *computation) connectivity(ctx context.Context) error {
	k := &c.report.Connectivity
	mt, ma := c.monthsTable()
	where, args := "1 = 1", []any{}
	if c.scope.sources != nil {
		where, args = "dp.funding_source_id IN (?)", []any{bun.In(c.scope.sources)}
	}
	if c.scope.kind != "" || c.scope.postal != "" {
		lw, la := c.scope.loans()
		where += ` AND EXISTS (SELECT 1 FROM loans l` + c.scope.loanJoins() + `WHERE l.data_plan_id = dp.id AND ` + lw +
			` AND l.issued_at < ? AND (` + closedAt + ` IS NULL OR ` + closedAt + ` >= ?))`
		args = append(append(args, la...), c.end, c.start)
	}
	var months, cost sql.NullInt64
	err := c.scan(ctx, "data plans", `SELECT COUNT(*), SUM(dp.monthly_cost_cents) FROM `+mt+` m
		JOIN data_plans dp ON dp.starts_on <= m.last_day AND (dp.ends_on IS NULL OR dp.ends_on >= m.first_day)
		WHERE `+where, append(append([]any{}, ma...), args...), func(rows *sql.Rows) error { return rows.Scan(&months, &cost) })
	if err != nil {
		return err
	}
	k.DataPlanMonths, k.DataPlanCostCents = Count(months.Int64), Count(cost.Int64)
	k.CostPerClientServedCents = Figure{Hidden: true}
	if served := int64(c.report.People.ClientsServed.Value); served >= MinPeople {
		k.CostPerClientServedCents = Count(int64(math.Round(float64(cost.Int64) / float64(served))))
	}
	return nil
}

// instant scans a moment from either database: a time from PostgreSQL, or
// the text SQLite keeps (which it also answers for a computed column, such
// as a MIN, whose type it does not know).
type instant struct {
	time.Time
	Valid bool
}

func (t *instant) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = instant{}
	case time.Time:
		*t = instant{v.UTC(), true}
	case []byte:
		return t.Scan(string(v))
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
			if p, err := time.Parse(layout, v); err == nil {
				*t = instant{p.UTC(), true}
				return nil
			}
		}
		return fmt.Errorf("reports: %q is not a time", v)
	default:
		return fmt.Errorf("reports: cannot read %T as a time", src)
	}
	return nil
}
