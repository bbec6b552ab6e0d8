package reports

import (
	"context"
	"database/sql"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
)

// MaxConcurrentExports is how many record exports run at once.
const MaxConcurrentExports = 2

var (
	exports     = make(chan struct{}, MaxConcurrentExports)
	exportsBusy = &apperr.Error{Code: apperr.Unavailable, RetryAfter: 30 * time.Second,
		Message: "other record exports are running; try again in a minute"}
)

// RecordsHeader is the header row of the record export: one row for each
// loan of a device or data plan in service in the period, or one row for it
// alone when it was not lent.
var RecordsHeader = []string{"record", "device_kind", "make", "model", "serial", "imei", "asset_tag",
	"carrier", "line_number", "iccid", "data_cap_mb", "funding_source", "cost_cents",
	"in_service_on", "out_of_service_on", "loan_issued_on", "loan_returned_on", "loan_lost_on", "client_case_number"}

// Records writes the record export of the period p asks for: each device
// and each data plan in service in it, with each of its loans in the period
// and the client's case number (never a name), as the U.S. Emergency
// Connectivity Fund asked programs to keep them (47 CFR 54.1715). For
// devices, cost_cents is the purchase cost and the service dates are when
// it was taken in and retired or lost; for data plans, the monthly cost and
// the plan's dates. The export names clients by case number, so each is
// recorded in the audit trail; a client the actor may not see (a
// coordinator's, unless referred to them) leaves the case number empty.
func (s *Service) Records(ctx context.Context, actor *accounts.Actor, p Params, w io.Writer) error {
	if !actor.Can(accounts.ExportRecords) {
		return apperr.New(apperr.Forbidden, "your role may not export records")
	}
	// Three years of a large agency is a file of a hundred megabytes or
	// so, held whole until it is recorded in the audit trail: a few at a
	// time, the others asked to come back.
	select {
	case exports <- struct{}{}:
		defer func() { <-exports }()
	default:
		return exportsBusy
	}
	sources, err := s.scopeFor(ctx, actor, p)
	if err != nil {
		return err
	}
	loc := calendar.Zone(s.Location)
	// A case number only for a client the actor may see on their own: a
	// coordinator, the clients referred to them. The export carries no more
	// than reading the client would show.
	visible := s.Clients.VisibleIDs(s.DB, actor)
	sc, err := newScope(ctx, sources, p.Kind, "", s.Clients)
	if err != nil {
		return err
	}
	c := &computation{db: s.DB, scope: sc, start: dayStart(p.From, loc),
		end: dayStart(p.To.AddDays(1), loc), to: p.To, loc: loc}
	out := csv.NewWriter(w)
	rows := 0
	write := func(cells ...string) {
		for i, v := range cells {
			cells[i] = SafeCell(v)
		}
		out.Write(cells)
		rows++
	}
	write(RecordsHeader...)
	day := func(t instant) string {
		if !t.Valid {
			return ""
		}
		return calendar.Of(t.In(loc)).String()
	}
	dw, da := c.scope.devices()
	statusAt := func(at string) string {
		return `(SELECT h.status FROM device_status_changes h WHERE h.device_id = d.id AND h.changed_at < ` + at +
			` ORDER BY h.changed_at DESC, h.id DESC LIMIT 1)`
	}
	// In service in the period: taken in before its end, and neither
	// retired nor lost at its start.
	err = c.scan(ctx, "devices", `SELECT d.kind, d.make, d.model, d.serial, d.imei, d.asset_tag, COALESCE(fs.name, ''),
			d.purchase_cost_cents, d.created_at,
			CASE WHEN `+statusAt("?")+` IN ('retired', 'lost') THEN (SELECT MAX(h.changed_at) FROM device_status_changes h
				WHERE h.device_id = d.id AND h.status IN ('retired', 'lost') AND h.changed_at < ?) END,
			l.issued_at, l.returned_at, l.lost_at, cl.id, COALESCE(cl.personal, '')
		FROM devices d
		LEFT JOIN funding_sources fs ON fs.id = d.funding_source_id
		LEFT JOIN loans l ON l.device_id = d.id AND l.issued_at < ? AND (`+closedAt+` IS NULL OR `+closedAt+` >= ?)
		LEFT JOIN clients cl ON cl.id = l.client_id AND cl.id IN (?)
		WHERE `+dw+` AND d.created_at < ? AND COALESCE(`+statusAt("?")+`, 'available') NOT IN ('retired', 'lost')
		ORDER BY d.sort_key, d.id, l.issued_at, l.id`,
		append(append([]any{c.end, c.end, c.end, c.start, visible}, da...), c.end, c.start), func(r *sql.Rows) error {
			var kind, make_, model, serial, imei, tag, source, sealed string
			var cost int64
			var created, out, issued, returned, lost instant
			var clientID sql.NullInt64
			if err := r.Scan(&kind, &make_, &model, &serial, &imei, &tag, &source, &cost, &created, &out,
				&issued, &returned, &lost, &clientID, &sealed); err != nil {
				return err
			}
			caseNumber, err := s.caseNumber(clientID, sealed)
			if err != nil {
				return err
			}
			write("device", kind, make_, model, serial, imei, tag, "", "", "", "", source, strconv.FormatInt(cost, 10),
				day(created), day(out), day(issued), day(returned), day(lost), caseNumber)
			return nil
		})
	if err != nil {
		return err
	}
	pw, pa := "1 = 1", []any{}
	if c.scope.sources != nil {
		pw, pa = "dp.funding_source_id IN (?)", []any{bun.In(c.scope.sources)}
	}
	err = c.scan(ctx, "data plans", `SELECT dp.carrier, dp.line_number, dp.iccid, dp.data_cap_mb, COALESCE(fs.name, ''),
			dp.monthly_cost_cents, dp.starts_on, dp.ends_on, l.issued_at, l.returned_at, l.lost_at, cl.id, COALESCE(cl.personal, '')
		FROM data_plans dp
		LEFT JOIN funding_sources fs ON fs.id = dp.funding_source_id
		LEFT JOIN loans l ON l.data_plan_id = dp.id AND l.issued_at < ? AND (`+closedAt+` IS NULL OR `+closedAt+` >= ?)
		LEFT JOIN clients cl ON cl.id = l.client_id AND cl.id IN (?)
		WHERE `+pw+` AND dp.starts_on <= `+c.date("?")+` AND (dp.ends_on IS NULL OR dp.ends_on >= `+c.date("?")+`)
		ORDER BY dp.id, l.issued_at, l.id`,
		append(append([]any{c.end, c.start, visible}, pa...), p.To, p.From), func(r *sql.Rows) error {
			var carrier, line, iccid, source, sealed string
			var capMB, clientID sql.NullInt64
			var cost int64
			var starts, ends calendar.Date
			var issued, returned, lost instant
			if err := r.Scan(&carrier, &line, &iccid, &capMB, &source, &cost, &starts, &ends, &issued, &returned, &lost,
				&clientID, &sealed); err != nil {
				return err
			}
			caseNumber, err := s.caseNumber(clientID, sealed)
			if err != nil {
				return err
			}
			dataCap := ""
			if capMB.Valid {
				dataCap = strconv.FormatInt(capMB.Int64, 10)
			}
			endsOn := ""
			if !ends.IsZero() {
				endsOn = ends.String()
			}
			write("data_plan", "", "", "", "", "", "", carrier, line, iccid, dataCap, source, strconv.FormatInt(cost, 10),
				starts.String(), endsOn, day(issued), day(returned), day(lost), caseNumber)
			return nil
		})
	if err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return err
	}
	return audit.Record(ctx, s.DB, audit.Event{OccurredAt: s.Now().UTC(), ActorID: actor.IDPtr(), Action: "report.records_exported",
		SubjectType: "report", SubjectID: 0}, map[string]any{"from": p.From, "to": p.To, "rows": rows - 1, "funding_sources": sources, "kind": p.Kind})
}

// caseNumber is the case number of a loan's client as the export shows it:
// "" for no loan, or a client the actor may not see (the query reads no
// client row then).
func (s *Service) caseNumber(id sql.NullInt64, sealed string) (string, error) {
	if !id.Valid {
		return "", nil
	}
	return s.Clients.CaseNumber(id.Int64, sealed), nil
}
