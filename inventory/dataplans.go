package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
)

// DataPlan is a mobile data line the agency pays for and lends with a device.
type DataPlan struct {
	bun.BaseModel `bun:"table:data_plans,alias:dp"`

	ID               int64         `bun:"id,pk,autoincrement" json:"id"`
	Carrier          string        `bun:"carrier" json:"carrier"`
	LineNumber       string        `bun:"line_number" json:"line_number"`
	ICCID            string        `bun:"iccid" json:"iccid"`
	MonthlyCostCents int64         `bun:"monthly_cost_cents" json:"monthly_cost_cents"`
	DataCapMB        *int          `bun:"data_cap_mb" json:"data_cap_mb"` // nil: unlimited
	StartsOn         calendar.Date `bun:"starts_on,type:date" json:"starts_on"`
	EndsOn           calendar.Date `bun:"ends_on,type:date,nullzero" json:"ends_on"`
	Notes            string        `bun:"notes" json:"notes"`
	CreatedAt        time.Time     `bun:"created_at" json:"created_at"`
	UpdatedAt        time.Time     `bun:"updated_at" json:"updated_at"`
	// FundingSourceID is the funding source that pays for the plan; null
	// when none is recorded.
	FundingSourceID *int64 `bun:"funding_source_id" json:"funding_source_id"`
	// OnLoan is true while the plan is on an open loan.
	OnLoan bool `bun:"on_loan,scanonly" json:"on_loan"`
}

// MaxDataCapMB bounds a data cap (100 TB), well inside a 32-bit column.
const MaxDataCapMB = 100_000_000

// DataPlanInput is a data plan as entered; for an update, fields not given
// stay as they are. data_cap_mb and ends_on may be given as null: no cap,
// no end date.
type DataPlanInput struct {
	Carrier          *string                       `json:"carrier"`
	LineNumber       *string                       `json:"line_number"`
	ICCID            *string                       `json:"iccid"`
	MonthlyCostCents *int64                        `json:"monthly_cost_cents"`
	DataCapMB        optional.Field[int]           `json:"data_cap_mb"`
	StartsOn         *calendar.Date                `json:"starts_on"`
	EndsOn           optional.Field[calendar.Date] `json:"ends_on"`
	Notes            *string                       `json:"notes"`
	// FundingSourceID names the funding source; null for none.
	FundingSourceID optional.Field[int64] `json:"funding_source_id"`
	// DueAfterPlanEnds lets an update end the plan before the due date of
	// the open loan it is lent on, as issuing and renewing allow.
	DueAfterPlanEnds bool `json:"due_after_plan_ends"`
}

func (in DataPlanInput) apply(p *DataPlan) error {
	for dst, src := range map[*string]*string{&p.Carrier: in.Carrier, &p.LineNumber: in.LineNumber, &p.ICCID: in.ICCID, &p.Notes: in.Notes} {
		optional.AssignTrimmed(dst, src)
	}
	optional.Assign(&p.MonthlyCostCents, in.MonthlyCostCents)
	if in.DataCapMB.Set {
		p.DataCapMB = nil
		if !in.DataCapMB.Null {
			p.DataCapMB = &in.DataCapMB.Value
		}
	}
	optional.Assign(&p.StartsOn, in.StartsOn)
	if in.EndsOn.Set {
		p.EndsOn = in.EndsOn.Value // the zero date when null
	}
	var bad apperr.Fields
	bad.Check(p.Carrier == "", "carrier", "is required")
	bad.MaxLength("carrier", p.Carrier, 100)
	bad.MaxLength("line_number", p.LineNumber, 30)
	bad.MaxLength("notes", p.Notes, MaxNotesLength)
	bad.Check(p.LineNumber == "" && p.ICCID == "", "line_number", "give the line number or the SIM's ICCID")
	bad.Check(p.LineNumber != "" && !digitsBetween(strings.Map(dropPhonePunct, p.LineNumber), 7, 15), "line_number", "must be a phone number of 7 to 15 digits")
	bad.Check(p.ICCID != "" && !digitsBetween(p.ICCID, 18, 22), "iccid", "must be 18 to 22 digits")
	bad.Check(p.MonthlyCostCents < 0, "monthly_cost_cents", "must not be negative")
	bad.Check(p.DataCapMB != nil && (*p.DataCapMB <= 0 || *p.DataCapMB > MaxDataCapMB), "data_cap_mb", "must be 1 to 100000000 (megabytes), or null for unlimited")
	startsOK, endsOK := p.StartsOn.Check(&bad, "starts_on"), p.EndsOn.Check(&bad, "ends_on")
	bad.Check(p.StartsOn.IsZero(), "starts_on", "is required")
	bad.Check(startsOK && endsOK && !p.EndsOn.IsZero() && !p.StartsOn.IsZero() && p.EndsOn.Before(p.StartsOn), "ends_on", "must not be before starts_on")
	return bad.Err()
}

func dropPhonePunct(r rune) rune {
	if strings.ContainsRune("+-() .", r) {
		return -1
	}
	return r
}

func digitsBetween(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (p *DataPlan) fields() map[string]any {
	return map[string]any{"carrier": p.Carrier, "line_number": p.LineNumber, "iccid": p.ICCID,
		"monthly_cost_cents": p.MonthlyCostCents, "data_cap_mb": p.DataCapMB,
		"starts_on": p.StartsOn, "ends_on": p.EndsOn, "notes": p.Notes, "funding_source_id": p.FundingSourceID}
}

func planEvent(actor *accounts.Actor, at time.Time, action string, p *DataPlan) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "data_plan", SubjectID: p.ID}
}

func planConflict(err error) error {
	for _, col := range []string{"iccid", "line_number"} {
		if storage.UniqueOn(err, col) {
			return &apperr.Error{Code: apperr.Conflict, Message: "another data plan has this " + col,
				Fields: map[string]string{col: "is already used by another data plan"}}
		}
	}
	return storage.Err(err, "data plan")
}

// CreateDataPlan adds a data plan to the pool.
func (s *Service) CreateDataPlan(ctx context.Context, actor *accounts.Actor, in DataPlanInput) (*DataPlan, error) {
	p := &DataPlan{}
	if err := apperr.Join(in.apply(p), s.fundPlan(ctx, s.DB, in, p)); err != nil {
		return nil, err
	}
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		p.CreatedAt = s.now()
		p.UpdatedAt = p.CreatedAt
		if _, err := tx.NewInsert().Model(p).Exec(ctx); err != nil {
			return planConflict(err)
		}
		return audit.Record(ctx, tx, planEvent(actor, p.CreatedAt, "data_plan.created", p), p.fields())
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdateDataPlan changes a data plan. Its end may not move before the due
// date of the open loan it is lent on unless the coordinator says so
// (DueAfterPlanEnds), as when issuing or renewing the loan.
func (s *Service) UpdateDataPlan(ctx context.Context, actor *accounts.Actor, id int64, in DataPlanInput) (*DataPlan, error) {
	var p *DataPlan
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if p, err = s.loadDataPlan(ctx, tx, id, true); err != nil {
			return err
		}
		before, oldEnd := p.fields(), p.EndsOn
		applyErr := apperr.Join(in.apply(p), s.fundPlan(ctx, tx, in, p))
		// The plan's row lock keeps a loan from being issued or renewed
		// on it meanwhile: both lock the plan before checking its end.
		var bad apperr.Fields
		endsBeforeDue := false
		if p.EndsOn != oldEnd && p.EndsOn.Problem() == "" && !p.EndsOn.IsZero() {
			var open []Loan
			if err := tx.NewSelect().Model(&open).Column("l.id", "l.due_on").
				Where("l.data_plan_id = ? AND l.status = ?", p.ID, LoanOpen).Scan(ctx); err != nil {
				return storage.Err(err, "loans")
			}
			for _, l := range open {
				if l.DueOn.After(p.EndsOn) {
					endsBeforeDue = true
					bad.Check(!in.DueAfterPlanEnds, "ends_on", fmt.Sprintf("is before loan %d is due (%s): choose a date from then on, or send \"due_after_plan_ends\": true to end it anyway", l.ID, l.DueOn))
				}
			}
		}
		if err := apperr.Join(applyErr, bad.Err()); err != nil {
			return err
		}
		changes := audit.Diff(before, p.fields())
		if len(changes) == 0 {
			return nil
		}
		recorded := map[string]any{}
		for k, v := range changes {
			recorded[k] = v
		}
		if endsBeforeDue {
			recorded["due_after_plan_ends"] = true
		}
		p.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(p).ExcludeColumn("id", "created_at").WherePK().Exec(ctx); err != nil {
			return planConflict(err)
		}
		return audit.Record(ctx, tx, planEvent(actor, p.UpdatedAt, "data_plan.updated", p), recorded)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planSelect selects data plans with their on_loan flag.
func planSelect(db bun.IDB, model any) *bun.SelectQuery {
	return db.NewSelect().Model(model).ColumnExpr("dp.*").
		ColumnExpr("EXISTS (SELECT 1 FROM loans AS l WHERE l.data_plan_id = dp.id AND l.status = 'open') AS on_loan")
}

// loadDataPlan reads a data plan; with lock, its row stays locked for the
// caller's transaction.
func (s *Service) loadDataPlan(ctx context.Context, db bun.IDB, id int64, lock bool) (*DataPlan, error) {
	if lock {
		if err := storage.Locked(db.NewSelect().Model((*DataPlan)(nil)).Column("id").Where("id = ?", id)).Scan(ctx, new(int64)); err != nil {
			return nil, storage.Err(err, "data plan")
		}
	}
	p := new(DataPlan)
	if err := planSelect(db, p).Where("dp.id = ?", id).Scan(ctx); err != nil {
		return nil, storage.Err(err, "data plan")
	}
	return p, nil
}

// DataPlan returns one data plan.
func (s *Service) DataPlan(ctx context.Context, id int64) (*DataPlan, error) {
	return s.loadDataPlan(ctx, s.DB, id, false)
}

// DataPlanFilter narrows a list of data plans.
type DataPlanFilter struct {
	// Free, when set, keeps only plans that are (true) or are not (false)
	// free to lend today: started, not ended, not on an open loan.
	Free *bool
	// Q matches part of the carrier, line number or ICCID.
	Q string
	// FundingSourceID keeps the plans this funding source pays for.
	FundingSourceID int64
}

// ListDataPlans returns data plans matching f.
func (s *Service) ListDataPlans(ctx context.Context, f DataPlanFilter, page storage.Page) ([]DataPlan, int, error) {
	out := []DataPlan{}
	q := planSelect(s.DB, &out)
	if f.FundingSourceID != 0 {
		q.Where("dp.funding_source_id = ?", f.FundingSourceID)
	}
	if f.Free != nil {
		today := s.today()
		cond := "(dp.starts_on <= ? AND (dp.ends_on IS NULL OR dp.ends_on >= ?) AND NOT EXISTS (SELECT 1 FROM loans AS l WHERE l.data_plan_id = dp.id AND l.status = 'open'))"
		if !*f.Free {
			cond = "NOT " + cond
		}
		q.Where(cond, today, today)
	}
	if f.Q != "" {
		like := "%" + strings.ToLower(storage.EscapeLike(strings.TrimSpace(f.Q))) + "%"
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, col := range []string{"dp.carrier", "dp.line_number", "dp.iccid"} {
				q.WhereOr("LOWER("+col+") LIKE ? ESCAPE '\\'", like)
			}
			return q
		})
	}
	total, err := page.Apply(q.OrderExpr("dp.id")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "data plans")
	}
	return out, int(total), nil
}
