package inventory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
)

// LoanStatus is where a loan is. "overdue" is not stored: it is an open
// loan whose due date has passed in the agency's time zone.
type LoanStatus string

const (
	LoanOpen     LoanStatus = "open"
	LoanReturned LoanStatus = "returned"
	LoanLost     LoanStatus = "lost"
	// LoanOverdue is a filter only.
	LoanOverdue LoanStatus = "overdue"
)

// MaxLoanDays is how far ahead a due date may be set.
const MaxLoanDays = 3 * 366

// MaxNotesLength is the longest note, in characters, on a device, a data
// plan, a loan, a return or an inspection.
const MaxNotesLength = 2000

// Loan is a device (and perhaps a data plan) lent to a client.
type Loan struct {
	bun.BaseModel `bun:"table:loans,alias:l"`

	ID              int64         `bun:"id,pk,autoincrement" json:"id"`
	ClientID        int64         `bun:"client_id" json:"client_id"`
	DeviceID        int64         `bun:"device_id" json:"device_id"`
	DeviceKind      Kind          `bun:"device_kind" json:"device_kind"` // one open loan of each kind per client
	DataPlanID      *int64        `bun:"data_plan_id" json:"data_plan_id"`
	Status          LoanStatus    `bun:"status" json:"status"`
	DueOn           calendar.Date `bun:"due_on,type:date" json:"due_on"`
	Renewals        int           `bun:"renewals" json:"renewals"`
	Notes           string        `bun:"notes" json:"notes"`
	IssuedAt        time.Time     `bun:"issued_at" json:"issued_at"`
	IssuedBy        int64         `bun:"issued_by" json:"issued_by"`
	ReturnedAt      *time.Time    `bun:"returned_at" json:"returned_at"`
	ReturnCondition string        `bun:"return_condition" json:"return_condition"`
	ReturnNotes     string        `bun:"return_notes" json:"return_notes"`
	LostAt          *time.Time    `bun:"lost_at" json:"lost_at"`
	LostNotes       string        `bun:"lost_notes" json:"lost_notes"`
	// SealedKey is the data key the notes are sealed under (sealed.go).
	SealedKey          *int64     `bun:"sealed_key" json:"-"`
	RecoveredAt        *time.Time `bun:"recovered_at" json:"recovered_at"`
	RecoveredCondition string     `bun:"recovered_condition" json:"recovered_condition"`
	UpdatedAt          time.Time  `bun:"updated_at" json:"updated_at"`
	// Overdue is computed: open and past its due date.
	Overdue bool `bun:"-" json:"overdue"`
}

func (s *Service) finish(loans ...*Loan) {
	today := s.today()
	for _, l := range loans {
		l.Overdue = l.Status == LoanOpen && l.DueOn.Before(today)
	}
}

func loanEvent(actor *accounts.Actor, at time.Time, action string, l *Loan) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "loan",
		SubjectID: l.ID, LoanID: &l.ID, ClientID: &l.ClientID, DeviceID: &l.DeviceID}
}

// IssueInput is a request to lend a device.
type IssueInput struct {
	ClientID   int64         `json:"client_id"`
	DeviceID   int64         `json:"device_id"`
	DataPlanID *int64        `json:"data_plan_id"`
	DueOn      calendar.Date `json:"due_on"`
	Notes      string        `json:"notes"`
	// RequestID names the ready device request this loan fulfils, if any.
	RequestID *int64 `json:"request_id"`
	// WalkInJustification says why a device is lent without a request (a
	// walk-in); required then, as for an override.
	WalkInJustification string `json:"walk_in_justification"`
	// DueAfterPlanEnds lets the due date fall after the data plan's end.
	DueAfterPlanEnds bool `json:"due_after_plan_ends"`
}

// checkPlanEnd refuses a due date after the data plan ends, which would
// leave the client with a device and no line, unless the coordinator says
// so (allowed).
func checkPlanEnd(bad *apperr.Fields, due calendar.Date, plan *DataPlan, allowed bool) {
	if plan != nil && !plan.EndsOn.IsZero() && due.After(plan.EndsOn) && !allowed {
		bad.Add("due_on", fmt.Sprintf("is after data plan %d ends (%s): choose a date up to then, or send \"due_after_plan_ends\": true to lend it anyway", plan.ID, plan.EndsOn))
	}
}

func (s *Service) checkDueDate(bad *apperr.Fields, due calendar.Date) {
	today := s.today()
	switch {
	case !due.Check(bad, "due_on"):
	case due.IsZero():
		bad.Add("due_on", "is required")
	case !due.After(today):
		bad.Add("due_on", "must be after today ("+today.String()+")")
	case due.After(today.AddDays(MaxLoanDays)):
		bad.Add("due_on", "must be within three years")
	}
}

// IssueLoan lends an available device to a client, against their ready
// device request or, with a written justification, as a walk-in. Of any
// number of concurrent attempts on one device exactly one succeeds; the
// others get a Conflict. A device held for a request goes only to a loan
// against that request, and a client has at most one open loan of each
// kind of device.
func (s *Service) IssueLoan(ctx context.Context, actor *accounts.Actor, in IssueInput) (*Loan, error) {
	var bad apperr.Fields
	bad.Check(in.ClientID <= 0, "client_id", "is required")
	bad.Check(in.DeviceID <= 0, "device_id", "is required")
	bad.Check(in.DataPlanID != nil && *in.DataPlanID <= 0, "data_plan_id", "must be a data plan id")
	bad.Check(in.RequestID != nil && (*in.RequestID <= 0 || s.Waitlist == nil), "request_id", "must be a request id")
	if in.RequestID == nil {
		in.WalkInJustification = eligibility.Justify(&bad, "walk_in_justification", in.WalkInJustification)
	} else {
		bad.Check(strings.TrimSpace(in.WalkInJustification) != "", "walk_in_justification", "is only for a loan without request_id (a walk-in); leave it out")
	}
	s.checkDueDate(&bad, in.DueOn)
	bad.MaxLength("notes", in.Notes, MaxNotesLength)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	var loan *Loan
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		kind, err := s.lockKindOf(ctx, tx, in.DeviceID)
		if err != nil {
			return err
		}
		// References first, all reported together.
		var bad apperr.Fields
		// A client the actor may not see is answered as one that does not exist.
		ok, err := s.Clients.VisibleHeld(ctx, tx, actor, in.ClientID)
		if err != nil {
			return err
		}
		bad.Check(!ok, "client_id", "no client you can see has this id")
		device, err := s.loadDevice(ctx, tx, in.DeviceID, true)
		if apperr.Is(err, apperr.NotFound) {
			bad.Add("device_id", "no device has this id")
		} else if err != nil {
			return err
		}
		var plan *DataPlan
		if in.DataPlanID != nil {
			plan, err = s.loadDataPlan(ctx, tx, *in.DataPlanID, true)
			if apperr.Is(err, apperr.NotFound) {
				bad.Add("data_plan_id", "no data plan has this id")
			} else if err != nil {
				return err
			}
			checkPlanEnd(&bad, in.DueOn, plan, in.DueAfterPlanEnds)
		}
		if err := bad.Err(); err != nil {
			return err
		}
		// Then state.
		if err := sameKind(device, kind); err != nil {
			return err
		}
		if device.Status != Available {
			return apperr.New(apperr.Conflict, "device %s is %s, not available", device.AssetTag, device.Status)
		}
		held := device.ReservedForRequestID
		if in.RequestID == nil {
			if held != nil {
				return apperr.New(apperr.Conflict, "device %s is held for request %d: only a loan with request_id %d may take it; lend a %s that is held for no one",
					device.AssetTag, *held, *held, device.Kind)
			}
			if s.Waitlist != nil {
				if err := s.Waitlist.WalkIn(ctx, tx, in.ClientID, string(device.Kind)); err != nil {
					return err
				}
			}
		}
		if plan != nil {
			today := s.today()
			switch {
			case plan.OnLoan:
				return apperr.New(apperr.Conflict, "data plan %d is already on an open loan", plan.ID)
			case today.Before(plan.StartsOn):
				return apperr.New(apperr.Conflict, "data plan %d starts on %s", plan.ID, plan.StartsOn)
			case !plan.EndsOn.IsZero() && plan.EndsOn.Before(today):
				return apperr.New(apperr.Conflict, "data plan %d ended on %s", plan.ID, plan.EndsOn)
			}
		}
		now := s.now()
		loan = &Loan{ClientID: in.ClientID, DeviceID: in.DeviceID, DeviceKind: device.Kind, DataPlanID: in.DataPlanID, Status: LoanOpen,
			DueOn: in.DueOn, Notes: strings.TrimSpace(in.Notes), IssuedAt: now, IssuedBy: actor.ID, UpdatedAt: now}
		err = loanInsert.ScanOne(ctx, tx, func(p storage.Param) storage.Query {
			return tx.NewRaw("INSERT INTO loans (client_id, device_id, device_kind, data_plan_id, status, due_on, renewals, notes, issued_at, issued_by, "+
				"return_condition, return_notes, lost_notes, recovered_condition, updated_at, sealed_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', ?, NULL) RETURNING id",
				p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10))
		}, []any{loan.ClientID, loan.DeviceID, loan.DeviceKind, loan.DataPlanID, loan.Status, loan.DueOn, loan.Renewals, "",
			loan.IssuedAt, loan.IssuedBy, loan.UpdatedAt}, &loan.ID)
		if err != nil {
			switch {
			case storage.UniqueOn(err, "device_id"):
				return apperr.New(apperr.Conflict, "device %s is already on an open loan", device.AssetTag)
			case storage.UniqueOn(err, "data_plan_id"):
				return apperr.New(apperr.Conflict, "data plan %d is already on an open loan", *in.DataPlanID)
			case storage.UniqueOn(err, "device_kind"):
				return apperr.New(apperr.Conflict, "client %d already has a %s on an open loan; a client has at most one open loan of each kind of device",
					in.ClientID, device.Kind)
			}
			return storage.Err(err, "loan")
		}
		// The notes go in once the loan has its id, which their seal binds.
		if loan.Notes != "" {
			sealed := s.sealedNotes(loan)
			if _, err := setNotes(tx.NewUpdate().Table("loans").Where("id = ?", loan.ID), func(i int) any { return sealed[i] }).
				Exec(ctx); err != nil {
				return storage.Err(err, "loan")
			}
		}
		// The client's first loan, which the utilization report counts new
		// clients by (migration 0021), rather than looking through every
		// loan of every client.
		_, err = firstLoan.Exec(ctx, tx, func(p storage.Param) storage.Query {
			return tx.NewUpdate().Table("clients").Set("first_loan_at = ?", p(0)).
				Where("id = ? AND (first_loan_at IS NULL OR first_loan_at > ?)", p(1), p(0))
		}, now, in.ClientID)
		if err != nil {
			return storage.Err(err, "loan")
		}
		details := map[string]any{
			"client_id": loan.ClientID, "device_id": loan.DeviceID, "asset_tag": device.AssetTag,
			"data_plan_id": loan.DataPlanID, "due_on": loan.DueOn, "request_id": in.RequestID,
			// Free text may speak of the client: which was written, never
			// what (the loan keeps it, until the client is erased).
			"texts": audit.FieldsGiven(map[string]any{"notes": loan.Notes, "walk_in_justification": in.WalkInJustification})}
		if in.DueAfterPlanEnds {
			details["due_after_plan_ends"] = true
		}
		if err := audit.Record(ctx, tx, loanEvent(actor, now, "loan.issued", loan), details); err != nil {
			return err
		}
		// The request is checked (this client's, this kind, ready) before
		// its hold on a device is looked at, so a wrong request_id is named.
		if in.RequestID != nil {
			if err := s.Waitlist.Fulfil(ctx, tx, actor, *in.RequestID, loan.ClientID, string(device.Kind), loan.ID); err != nil {
				return err
			}
			if held != nil && *held != *in.RequestID {
				return apperr.New(apperr.Conflict, "device %s is held for request %d: only a loan with request_id %d may take it; lend another %s against request %d",
					device.AssetTag, *held, *held, device.Kind, *in.RequestID)
			}
		}
		// The conditional update is what makes concurrent issues safe: on
		// PostgreSQL a second transaction waits for the row lock, then finds
		// the device changed and updates nothing; on SQLite the transaction
		// already holds the write lock. A held device is taken only by its
		// own request, and lent it is held no more.
		// (Without a request, the request id is NULL, which equals nothing.)
		lend := func(p storage.Param) *bun.UpdateQuery {
			return tx.NewUpdate().Model((*Device)(nil)).Set("status = ?", p(0)).Set("reserved_for_request_id = NULL").Set("updated_at = ?", p(1)).
				Where("d.id = ?", p(2)).Where("status = ?", p(3)).
				Where("(reserved_for_request_id IS NULL OR reserved_for_request_id = ?)", p(4))
		}
		err = moveDevice(ctx, tx, &lendMove, lend, []any{OnLoan, now, device.ID, Available, in.RequestID}, device.ID, OnLoan, now, device.AssetTag)
		if err != nil {
			return err
		}
		device.Status, device.ReservedForRequestID = OnLoan, nil
		// Lent against a request from another device on the shelf: the
		// device the request held is free again, for the next in line.
		if in.RequestID != nil && held == nil {
			released, err := s.Release(ctx, tx, actor, *in.RequestID)
			if err != nil || released == 0 {
				return err
			}
			return s.freed(ctx, tx, actor, device.Kind)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.finish(loan)
	return loan, nil
}

// scope restricts a loan query to what the actor may see: a social worker
// sees only their own clients' loans.
func (s *Service) scope(db bun.IDB, q *bun.SelectQuery, actor *accounts.Actor) *bun.SelectQuery {
	if seesEveryLoan(actor) {
		return q
	}
	if actor.Can(accounts.ReadLoans) && actor.Role == accounts.SocialWorker {
		return q.Where("l.client_id IN (?)", s.Clients.CaseloadIDs(db, actor.ID))
	}
	return q.Where("1 = 0")
}

// seesEveryLoan reports whether scope leaves the actor's loan queries as
// they are: those who manage loans see every one.
func seesEveryLoan(actor *accounts.Actor) bool { return actor.Can(accounts.ManageLoans) }

// loadLoan reads a loan the actor may see; with lock, its row stays locked
// for the caller's transaction.
func (s *Service) loadLoan(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64, lock bool) (*Loan, error) {
	l := new(Loan)
	var err error
	if seesEveryLoan(actor) {
		// scope adds nothing: the same query each time, kept prepared, as
		// every change of a loan reads it first.
		hot := &loanRead
		if lock {
			hot = &loanReadLocked
		}
		err = hot.ScanOne(ctx, db, func(p storage.Param) storage.Query {
			return storage.LockedIf(db.NewSelect().Model((*Loan)(nil)).Where("l.id = ?", p(0)), lock)
		}, []any{id}, l)
	} else {
		err = storage.LockedIf(s.scope(db, db.NewSelect().Model(l).Where("l.id = ?", id), actor), lock).Scan(ctx)
	}
	if err != nil {
		return nil, storage.Err(err, "loan")
	}
	return l, s.openNotes(l)
}

// Statements of every loan's way, kept prepared.
var loanRead, loanReadLocked, loanInsert, firstLoan storage.HotQuery

// Loan returns one loan the actor may see.
func (s *Service) Loan(ctx context.Context, actor *accounts.Actor, id int64) (*Loan, error) {
	l, err := s.loadLoan(ctx, s.DB, actor, id, false)
	if err != nil {
		return nil, err
	}
	s.finish(l)
	return l, nil
}

// LoanFilter narrows a list of loans.
type LoanFilter struct {
	ClientID int64
	DeviceID int64
	Status   LoanStatus
	// Agreement is "unsigned" (open loans whose agreement is not signed
	// yet), "signed", or empty for any.
	Agreement string
	// Due is "week" (open loans due today or in the six days after, not
	// overdue) or empty for any.
	Due string
}

// DueWeek is the due filter of the loans due within a week.
const DueWeek = "week"

// ParseDueFilter checks the due filter given as text; empty means any.
func ParseDueFilter(s string) (string, error) {
	if s != "" && s != DueWeek {
		return "", (apperr.Fields{"due": "must be week"}).Err()
	}
	return s, nil
}

// ParseAgreementFilter checks the agreement filter given as text; empty
// means any.
func ParseAgreementFilter(s string) (string, error) {
	if s != "" && s != "signed" && s != "unsigned" {
		return "", (apperr.Fields{"agreement": "must be signed or unsigned"}).Err()
	}
	return s, nil
}

// LoanStatuses are the values the status filter takes.
var LoanStatuses = []LoanStatus{LoanOpen, LoanOverdue, LoanReturned, LoanLost}

// ParseLoanStatus checks a status filter given as text; empty means any.
func ParseLoanStatus(s string) (LoanStatus, error) {
	if s != "" && !oneOf(LoanStatus(s), LoanStatuses) {
		return "", (apperr.Fields{"status": "must be one of " + list(LoanStatuses)}).Err()
	}
	return LoanStatus(s), nil
}

// ListLoans returns the loans the actor may see that match f, newest first.
func (s *Service) ListLoans(ctx context.Context, actor *accounts.Actor, f LoanFilter, page storage.Page) ([]Loan, int, error) {
	out := []Loan{}
	q, err := s.filterLoans(s.DB.NewSelect().Model(&out), actor, f)
	if err != nil {
		return nil, 0, err
	}
	total, err := page.Apply(q.OrderExpr("l.issued_at DESC, l.id DESC")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "loans")
	}
	s.openListed(out)
	for i := range out {
		s.finish(&out[i])
	}
	return out, int(total), nil
}

// CountLoans counts the loans ListLoans would list, without reading them.
func (s *Service) CountLoans(ctx context.Context, actor *accounts.Actor, f LoanFilter) (int, error) {
	q, err := s.filterLoans(s.DB.NewSelect().Model((*Loan)(nil)), actor, f)
	if err != nil {
		return 0, err
	}
	n, err := q.Count(ctx)
	return int(n), storage.Err(err, "loans")
}

// filterLoans narrows q (over loans AS l) to the loans the actor may see
// that match f.
func (s *Service) filterLoans(q *bun.SelectQuery, actor *accounts.Actor, f LoanFilter) (*bun.SelectQuery, error) {
	_, serr := ParseLoanStatus(string(f.Status))
	_, aerr := ParseAgreementFilter(f.Agreement)
	_, derr := ParseDueFilter(f.Due)
	if err := apperr.Join(serr, aerr, derr); err != nil {
		return nil, err
	}
	q = s.scope(s.DB, q, actor)
	if f.ClientID != 0 {
		// Asking for the loans of a client one may not see finds none, as
		// for a client that does not exist.
		q.Where("l.client_id = ?", f.ClientID).Where("l.client_id IN (?)", s.Clients.VisibleIDs(s.DB, actor))
	}
	if f.DeviceID != 0 {
		q.Where("l.device_id = ?", f.DeviceID)
	}
	signed := s.DB.NewSelect().Table("loan_agreements").ColumnExpr("1").Where("loan_agreements.loan_id = l.id")
	switch f.Agreement {
	case "unsigned":
		q.Where("l.status = ? AND NOT EXISTS (?)", LoanOpen, signed)
	case "signed":
		q.Where("EXISTS (?)", signed)
	}
	switch f.Status {
	case LoanOverdue:
		q.Where("l.status = ? AND l.due_on < ?", LoanOpen, s.today())
	case "":
	default:
		q.Where("l.status = ?", f.Status)
	}
	if f.Due == DueWeek {
		today := s.today()
		q.Where("l.status = ? AND l.due_on >= ? AND l.due_on <= ?", LoanOpen, today, today.AddDays(6))
	}
	return q, nil
}

// change runs one loan transition: it loads the loan, checks it with
// allowed, applies the conditional loan update and the device update that
// goes with it, and records the event, all in one transaction.
func (s *Service) change(ctx context.Context, actor *accounts.Actor, id int64, action string,
	allowed func(tx bun.Tx, l *Loan) error,
	update func(l *Loan, now time.Time) loanChange,
) (*Loan, error) {
	var loan *Loan
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		// The loan stays locked until commit: a renewal, return or loss
		// running at the same time waits, then sees this one's result.
		l, err := s.loadLoan(ctx, tx, actor, id, true)
		if err != nil {
			return err
		}
		if err := allowed(tx, l); err != nil {
			return err
		}
		now := s.now()
		prev := l.Status
		c := update(l, now)
		move, details := c.move, c.details
		res, err := c.hot.Exec(ctx, tx, func(p storage.Param) storage.Query {
			q := tx.NewUpdate().Model((*Loan)(nil)).Set("updated_at = ?", p(0)).Where("l.id = ?", p(1)).Where("status = ?", p(2))
			return c.set(q, p.From(3))
		}, slices.Concat([]any{now, l.ID, prev}, c.args)...)
		if err := changedOne(res, err, "loan", "#"+itoa(l.ID)); err != nil {
			return err
		}
		l.UpdatedAt = now
		if move.From != move.To {
			// A condition is set when the move has one.
			update := func(p storage.Param) *bun.UpdateQuery {
				return tx.NewUpdate().Table("devices").Set("status = ?", p(0)).Set("updated_at = ?", p(1)).
					Set("condition = COALESCE(NULLIF(?, ''), condition)", p(2)).
					Where("id = ? AND status = ?", p(3), p(4))
			}
			err := moveDevice(ctx, tx, &loanMove, update, []any{move.To, now, move.Condition, l.DeviceID, move.From},
				l.DeviceID, move.To, now, "#"+itoa(l.DeviceID))
			if err != nil {
				return err
			}
			details["device_status"] = audit.Change{From: move.From, To: move.To}
		}
		if prev != l.Status {
			details["status"] = audit.Change{From: prev, To: l.Status}
		}
		if s.Reminders != nil && (prev != l.Status || details["due_on"] != nil) {
			if err := s.Reminders.LoanChanged(ctx, tx, l.ID, l.Status == LoanOpen, l.DueOn); err != nil {
				return err
			}
		}
		loan = l
		return audit.Record(ctx, tx, loanEvent(actor, now, action, l), details)
	})
	if err != nil {
		return nil, err
	}
	s.finish(loan)
	return loan, nil
}

// deviceMove is what a loan transition does to its device: a status change
// (none when From equals To) and, when known, its condition.
type deviceMove struct {
	From, To  Status
	Condition string
}

// loanChange is what one kind of change does to a loan (change): set adds
// its columns and conditions to the loan's conditional update, taking its
// arguments (args) from param; hot keeps that statement prepared, one per
// kind of change. The device moves as move says; details go to the audit
// event.
type loanChange struct {
	hot     *storage.HotQuery
	set     func(q *bun.UpdateQuery, param storage.Param) *bun.UpdateQuery
	args    []any
	move    deviceMove
	details map[string]any
}

// The loan updates of each kind of change, kept prepared.
var returnUpdate, renewUpdate, lostUpdate, recoveredUpdate storage.HotQuery

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustBeOpen(_ bun.Tx, l *Loan) error {
	if l.Status != LoanOpen {
		return apperr.New(apperr.Conflict, "loan %d is %s, not open", l.ID, l.Status)
	}
	return nil
}

// ReturnInput records a device coming back.
type ReturnInput struct {
	Condition string `json:"condition"`
	Notes     string `json:"notes"`
}

// ReturnLoan closes an open loan; the device goes to inspection and its data
// plan is free again.
func (s *Service) ReturnLoan(ctx context.Context, actor *accounts.Actor, id int64, in ReturnInput) (*Loan, error) {
	in.Condition, in.Notes = strings.TrimSpace(in.Condition), strings.TrimSpace(in.Notes)
	var bad apperr.Fields
	bad.Check(!oneOf(in.Condition, Conditions), "condition", "must be one of "+list(Conditions))
	bad.MaxLength("notes", in.Notes, MaxNotesLength)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, id, "loan.returned", mustBeOpen,
		func(l *Loan, now time.Time) loanChange {
			l.Status, l.ReturnedAt, l.ReturnCondition, l.ReturnNotes = LoanReturned, &now, in.Condition, in.Notes
			return loanChange{hot: &returnUpdate,
				set: func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
					return setNotes(q.Set("status = ?", p(0)).Set("returned_at = ?", p(1)).Set("return_condition = ?", p(2)), p.From(3))
				},
				args: append([]any{l.Status, now, in.Condition}, s.sealedNotes(l)...),
				move: deviceMove{OnLoan, Inspection, in.Condition}, details: map[string]any{"condition": in.Condition, "texts": audit.FieldsGiven(map[string]any{"notes": in.Notes})}}
		})
}

// RenewInput moves a loan's due date.
type RenewInput struct {
	DueOn calendar.Date `json:"due_on"`
	// DueAfterPlanEnds lets the new due date fall after the end of the
	// loan's data plan.
	DueAfterPlanEnds bool `json:"due_after_plan_ends"`
}

// RenewLoan gives an open loan a later due date, no later than the end of
// its data plan unless the coordinator says so.
func (s *Service) RenewLoan(ctx context.Context, actor *accounts.Actor, id int64, in RenewInput) (*Loan, error) {
	var bad apperr.Fields
	s.checkDueDate(&bad, in.DueOn)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, id, "loan.renewed",
		func(tx bun.Tx, l *Loan) error {
			if err := mustBeOpen(tx, l); err != nil {
				return err
			}
			var bad apperr.Fields
			bad.Check(!in.DueOn.After(l.DueOn), "due_on", "must be after the current due date ("+l.DueOn.String()+")")
			if l.DataPlanID != nil {
				plan, err := s.loadDataPlan(ctx, tx, *l.DataPlanID, true)
				if err != nil {
					return err
				}
				checkPlanEnd(&bad, in.DueOn, plan, in.DueAfterPlanEnds)
			}
			return bad.Err()
		},
		func(l *Loan, now time.Time) loanChange {
			details := map[string]any{"due_on": audit.Change{From: l.DueOn, To: in.DueOn}}
			if in.DueAfterPlanEnds {
				details["due_after_plan_ends"] = true
			}
			was := l.DueOn
			l.DueOn = in.DueOn
			l.Renewals++
			return loanChange{hot: &renewUpdate,
				set: func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
					return q.Set("due_on = ?", p(0)).Set("renewals = renewals + 1").Where("due_on = ?", p(1))
				},
				args: []any{l.DueOn, was},
				move: deviceMove{From: OnLoan, To: OnLoan}, details: details}
		})
}

// LostInput records a device reported lost.
type LostInput struct {
	Notes string `json:"notes"`
}

// MarkLost closes an open loan as lost; the device is marked lost.
func (s *Service) MarkLost(ctx context.Context, actor *accounts.Actor, id int64, in LostInput) (*Loan, error) {
	in.Notes = strings.TrimSpace(in.Notes)
	var bad apperr.Fields
	bad.MaxLength("notes", in.Notes, MaxNotesLength)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, id, "loan.lost", mustBeOpen,
		func(l *Loan, now time.Time) loanChange {
			l.Status, l.LostAt, l.LostNotes = LoanLost, &now, in.Notes
			return loanChange{hot: &lostUpdate,
				set: func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
					return setNotes(q.Set("status = ?", p(0)).Set("lost_at = ?", p(1)), p.From(2))
				},
				args: append([]any{l.Status, now}, s.sealedNotes(l)...),
				move: deviceMove{From: OnLoan, To: Lost}, details: map[string]any{"texts": audit.FieldsGiven(map[string]any{"notes": in.Notes})}}
		})
}

// RecoveredInput records a lost device found again.
type RecoveredInput struct {
	Condition string `json:"condition"`
}

// RecordRecovered notes that a lost loan's device came back; the device
// goes to inspection. The loan stays lost, with the recovery recorded.
func (s *Service) RecordRecovered(ctx context.Context, actor *accounts.Actor, id int64, in RecoveredInput) (*Loan, error) {
	in.Condition = strings.TrimSpace(in.Condition)
	if !oneOf(in.Condition, Conditions) {
		return nil, (apperr.Fields{"condition": "must be one of " + list(Conditions)}).Err()
	}
	return s.change(ctx, actor, id, "loan.recovered",
		func(_ bun.Tx, l *Loan) error {
			if l.Status != LoanLost {
				return apperr.New(apperr.Conflict, "loan %d is %s; only a lost loan's device can be recovered", l.ID, l.Status)
			}
			if l.RecoveredAt != nil {
				return apperr.New(apperr.Conflict, "loan %d's device was already recovered", l.ID)
			}
			return nil
		},
		func(l *Loan, now time.Time) loanChange {
			l.RecoveredAt, l.RecoveredCondition = &now, in.Condition
			return loanChange{hot: &recoveredUpdate,
				set: func(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
					return q.Set("recovered_at = ?", p(0)).Set("recovered_condition = ?", p(1)).Where("recovered_at IS NULL")
				},
				args: []any{now, in.Condition},
				move: deviceMove{Lost, Inspection, in.Condition}, details: map[string]any{"condition": in.Condition}}
		})
}

// LoansOfClient returns every loan made to a client, oldest first, for a
// caller that has already checked the actor may see everything about the
// client (a client's export: app.ExportClient).
func (s *Service) LoansOfClient(ctx context.Context, db bun.IDB, clientID int64) ([]Loan, error) {
	out := []Loan{}
	if err := db.NewSelect().Model(&out).Where("l.client_id = ?", clientID).OrderExpr("l.id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "loans")
	}
	s.openListed(out)
	for i := range out {
		s.finish(&out[i])
	}
	return out, nil
}
