package eligibility

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// RequestStatus is where a device request is.
//
//	submitted -> approved | denied | needs_review       (decided at once)
//	needs_review -> approved | denied                   (a coordinator decides)
//	denied -> approved                                  (a coordinator overrides, with a justification)
//	approved -> waitlisted | ready                      (ready when a device of the kind is free)
//	waitlisted -> ready                                 (when a device frees up, head of the list first)
//	ready -> fulfilled                                  (a loan is issued against the request)
//	ready -> waitlisted                                 (its device went to repair and no other is free)
//	any open status -> cancelled
//
// A ready request holds one device of its kind (the device's
// reserved_for_request_id), which nothing else may lend.
type RequestStatus string

const (
	Submitted     RequestStatus = "submitted"
	Approved      RequestStatus = "approved"
	Denied        RequestStatus = "denied"
	NeedsReviewed RequestStatus = "needs_review"
	Waitlisted    RequestStatus = "waitlisted"
	Ready         RequestStatus = "ready"
	Fulfilled     RequestStatus = "fulfilled"
	Cancelled     RequestStatus = "cancelled"
)

// MinJustifyChars is the shortest written justification: for a denial, an
// override, a loan without a request.
const MinJustifyChars = 10

// RequestStatuses lists every status.
var RequestStatuses = []RequestStatus{Submitted, Approved, Denied, NeedsReviewed, Waitlisted, Ready, Fulfilled, Cancelled}

var openStatuses = []RequestStatus{Submitted, Approved, NeedsReviewed, Waitlisted, Ready}

// DeviceRequest is a social worker's request for a device for a client,
// with the decision made when it was filed.
type DeviceRequest struct {
	bun.BaseModel `bun:"table:device_requests,alias:r"`

	ID              int64         `bun:"id,pk,autoincrement" json:"id"`
	ClientID        int64         `bun:"client_id" json:"client_id"`
	DeviceKind      string        `bun:"device_kind" json:"device_kind"`
	NeedsDataPlan   bool          `bun:"needs_data_plan" json:"needs_data_plan"`
	Reason          string        `bun:"reason" json:"reason"`
	Urgency         string        `bun:"urgency" json:"urgency"`
	Status          RequestStatus `bun:"status" json:"status"`
	Outcome         Outcome       `bun:"outcome" json:"-"`
	RuleSetVersion  int           `bun:"rule_set_version" json:"-"`
	DecisionJSON    string        `bun:"decision" json:"-"`
	Decision        Decision      `bun:"-" json:"decision"`
	Priority        int           `bun:"priority" json:"priority"`
	PriorityJSON    string        `bun:"priority_reasons" json:"-"`
	PriorityReasons []string      `bun:"-" json:"priority_reasons"`
	Justification   string        `bun:"justification" json:"justification"`
	// SealedKey is the data key the sealed fields are under (sealed.go).
	SealedKey    *int64     `bun:"sealed_key" json:"-"`
	LoanID       *int64     `bun:"loan_id" json:"loan_id"`
	CreatedBy    int64      `bun:"created_by" json:"created_by"`
	CreatedAt    time.Time  `bun:"created_at" json:"created_at"`
	UpdatedAt    time.Time  `bun:"updated_at" json:"updated_at"`
	WaitlistedAt *time.Time `bun:"waitlisted_at" json:"waitlisted_at"`

	// ReservedDeviceID is the device held for a ready request; null otherwise.
	ReservedDeviceID *int64 `bun:"reserved_device_id,scanonly" json:"reserved_device_id"`
	// Referral: filed by someone whose role refers clients (a social worker,
	// an admin), so that, until it is cancelled, coordinators see the client.
	Referral bool `bun:"referral" json:"-"`
}

func (r *DeviceRequest) decode() error {
	if err := json.Unmarshal([]byte(r.DecisionJSON), &r.Decision); err != nil {
		return apperr.Wrap(err, "stored decision is unreadable")
	}
	r.PriorityReasons = []string{}
	if err := json.Unmarshal([]byte(r.PriorityJSON), &r.PriorityReasons); err != nil {
		return apperr.Wrap(err, "stored priority is unreadable")
	}
	return nil
}

// RequestInput is a request as a social worker files it.
type RequestInput struct {
	ClientID      int64  `json:"client_id"`
	DeviceKind    string `json:"device_kind"`
	NeedsDataPlan bool   `json:"needs_data_plan"`
	Reason        string `json:"reason"`
	Urgency       string `json:"urgency"`
}

func requestEvent(actor *accounts.Actor, at time.Time, action string, r *DeviceRequest) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "device_request",
		SubjectID: r.ID, ClientID: &r.ClientID}
}

// FileRequest records a request for a client the actor may see and decides
// it at once: approved requests go to ready or the waitlist, others to
// denied or needs_review.
func (s *Service) FileRequest(ctx context.Context, actor *accounts.Actor, in RequestInput) (*DeviceRequest, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Urgency == "" {
		in.Urgency = "normal"
	}
	var bad apperr.Fields
	bad.Check(in.ClientID <= 0, "client_id", "is required")
	bad.Check(!contains(DeviceKinds, in.DeviceKind), "device_kind", "must be one of phone, tablet, laptop, hotspot, other")
	bad.Check(!contains(Urgencies, in.Urgency), "urgency", "must be low, normal or high")
	bad.MaxLength("reason", in.Reason, 2000)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	p, err := s.policy(ctx)
	if err != nil {
		return nil, err
	}
	var r *DeviceRequest
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		// The decision is made under the kind's lock, which issuing a loan
		// also takes: a walk-in of this kind to this client either commits
		// first, and the decision counts it, or waits and finds the request
		// (see docs/eligibility.md).
		if err := s.Lending.LockKind(ctx, tx, in.DeviceKind); err != nil {
			return err
		}
		d, needs, err := s.decide(ctx, tx, actor, in.ClientID, Request{DeviceKind: in.DeviceKind, NeedsDataPlan: in.NeedsDataPlan}, p)
		if err != nil {
			return err
		}
		score, reasons := Score(p.rules.RuleSet, in.Urgency, needs)
		decision, _ := json.Marshal(d)
		reasonJSON, _ := json.Marshal(reasons)
		now := s.now()
		r = &DeviceRequest{ClientID: in.ClientID, DeviceKind: in.DeviceKind, NeedsDataPlan: in.NeedsDataPlan,
			Reason: in.Reason, Urgency: in.Urgency, Outcome: d.Outcome, RuleSetVersion: d.RuleSetVersion,
			DecisionJSON: string(decision), Decision: *d, Priority: score, PriorityJSON: string(reasonJSON),
			PriorityReasons: reasons, Referral: actor.Can(accounts.ReferClients), CreatedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
		r.Status = map[Outcome]RequestStatus{Eligible: Approved, Ineligible: Denied, NeedsReview: NeedsReviewed}[d.Outcome]
		if err := s.insert(ctx, tx, r); err != nil {
			if storage.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "this client already has an open request for a %s", in.DeviceKind)
			}
			return storage.Err(err, "request")
		}
		if err := audit.Record(ctx, tx, requestEvent(actor, now, "request.filed", r), map[string]any{
			"device_kind": r.DeviceKind, "urgency": r.Urgency, "outcome": d.Outcome,
			"rule_set_version": d.RuleSetVersion, "status": r.Status}); err != nil {
			return err
		}
		if r.Status == Approved {
			return s.place(ctx, tx, actor, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// place moves an approved request to ready, holding a free device of its
// kind, or onto the waitlist when none is free. (A free device held for no
// one means nobody is waiting for its kind: promote gives every freed
// device to the head of the line.)
func (s *Service) place(ctx context.Context, tx bun.Tx, actor *accounts.Actor, r *DeviceRequest) error {
	if err := s.Lending.LockKind(ctx, tx, r.DeviceKind); err != nil {
		return err
	}
	id, err := s.Lending.Reserve(ctx, tx, actor, r.DeviceKind, r.ID)
	if err != nil {
		return err
	}
	if id == 0 {
		return s.move(ctx, tx, actor, r, []RequestStatus{Approved}, Waitlisted, "")
	}
	r.ReservedDeviceID = &id
	return s.move(ctx, tx, actor, r, []RequestStatus{Approved}, Ready, "")
}

// move changes a request's status if it is in one of from, and records it.
func (s *Service) move(ctx context.Context, tx bun.Tx, actor *accounts.Actor, r *DeviceRequest, from []RequestStatus, to RequestStatus, justification string) error {
	if !containsStatus(from, r.Status) {
		return apperr.New(apperr.Conflict, "request %d is %s; it cannot become %s", r.ID, r.Status, to)
	}
	now := s.now()
	q := tx.NewUpdate().Model(r).Set("status = ?", to).Set("updated_at = ?", now).WherePK().Where("status = ?", r.Status)
	if to == Waitlisted {
		// Back from ready, a request keeps its place in line: the time it
		// joined it, or, if it never waited, the time it became ready
		// (nothing changes a ready request but its next transition).
		at := now
		if r.Status == Ready {
			at = r.UpdatedAt
			if r.WaitlistedAt != nil {
				at = *r.WaitlistedAt
			}
		}
		q.Set("waitlisted_at = ?", at)
		r.WaitlistedAt = &at
	}
	if justification != "" {
		r.Justification = justification
		s.setSealed(q, r)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return storage.Err(err, "request")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "request %d was changed by someone else at the same moment; reload and try again", r.ID)
	}
	changes := map[string]any{"status": audit.Change{From: r.Status, To: to}}
	if justification != "" {
		changes["texts"] = []string{"justification"} // written, never quoted: it may speak of the client
	}
	r.Status, r.UpdatedAt = to, now
	return audit.Record(ctx, tx, requestEvent(actor, now, "request."+string(to), r), changes)
}

func containsStatus(list []RequestStatus, s RequestStatus) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scope restricts a request query to what the actor may see: the requests
// of the clients they may see (all of them for an admin, their caseload for
// a social worker, the clients referred to the program for a coordinator,
// which every request that is not cancelled is).
func (s *Service) scope(db bun.IDB, q *bun.SelectQuery, actor *accounts.Actor) *bun.SelectQuery {
	if !actor.Can(accounts.ReadRequests) {
		return q.Where("1 = 0")
	}
	return q.Where("r.client_id IN (?)", s.Clients.VisibleIDs(db, actor))
}

// selectRequests selects requests into model with the device each holds.
func (s *Service) selectRequests(db bun.IDB, model any) *bun.SelectQuery {
	return db.NewSelect().Model(model).ColumnExpr("r.*").
		ColumnExpr("(?) AS reserved_device_id", s.Lending.ReservedDevice(db, "r.id"))
}

func (s *Service) loadRequest(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64, lock bool) (*DeviceRequest, error) {
	r := new(DeviceRequest)
	q := s.scope(db, s.selectRequests(db, r).Where("r.id = ?", id), actor)
	q = storage.LockedIf(q, lock)
	if err := q.Scan(ctx); err != nil {
		return nil, storage.Err(err, "request")
	}
	return r, s.open(r)
}

// DeviceRequest returns one request the actor may see, and records the
// read: its decision and priority quote the client's income, programs and
// needs.
func (s *Service) DeviceRequest(ctx context.Context, actor *accounts.Actor, id int64) (*DeviceRequest, error) {
	var r *DeviceRequest
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if r, err = s.loadRequest(ctx, tx, actor, id, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx, requestEvent(actor, s.now(), "client.request_viewed", r), nil)
	})
	return r, err
}

// recordList records a read of a list of requests (the requests list or
// the waitlist) as one event naming the requests and clients it showed.
func (s *Service) recordList(ctx context.Context, actor *accounts.Actor, action, subject string, requests, clients []int64, details map[string]any) error {
	details["request_ids"], details["client_ids"] = requests, clients
	return audit.Record(ctx, s.DB, audit.Event{OccurredAt: s.now(), ActorID: actor.IDPtr(), Action: action, SubjectType: subject}, details)
}

// RequestFilter narrows a list of requests.
type RequestFilter struct {
	ClientID   int64
	Status     RequestStatus
	DeviceKind string
}

// ParseRequestFilter checks filter values given as text.
func ParseRequestFilter(status, kind string) (RequestFilter, error) {
	f := RequestFilter{Status: RequestStatus(status), DeviceKind: kind}
	var bad apperr.Fields
	bad.Check(status != "" && !containsStatus(RequestStatuses, f.Status), "status", "must be one of submitted, approved, denied, needs_review, waitlisted, ready, fulfilled, cancelled")
	bad.Check(kind != "" && !contains(DeviceKinds, kind), "device_kind", "must be one of phone, tablet, laptop, hotspot, other")
	return f, bad.Err()
}

// Requests lists the requests the actor may see, newest first. The read is
// recorded, as one request.listed event naming the requests and clients.
func (s *Service) Requests(ctx context.Context, actor *accounts.Actor, f RequestFilter, page storage.Page) ([]DeviceRequest, int, error) {
	out := []DeviceRequest{}
	q := s.scope(s.DB, s.selectRequests(s.DB, &out), actor)
	if f.ClientID != 0 {
		q.Where("r.client_id = ?", f.ClientID)
	}
	if f.Status != "" {
		q.Where("r.status = ?", f.Status)
	}
	if f.DeviceKind != "" {
		q.Where("r.device_kind = ?", f.DeviceKind)
	}
	total, err := page.Apply(q.OrderExpr("r.created_at DESC, r.id DESC")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "requests")
	}
	requests, clients := make([]int64, len(out)), make([]int64, len(out))
	for i := range out {
		if err := s.open(&out[i]); err != nil {
			return nil, 0, err
		}
		requests[i], clients[i] = out[i].ID, out[i].ClientID
	}
	err = s.recordList(ctx, actor, "request.listed", "request_list", requests, clients, map[string]any{"total": total,
		"client_id": f.ClientID, "status": f.Status, "device_kind": f.DeviceKind, "offset": page.Offset, "limit": page.Limit})
	if err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}

// transition runs one coordinator or worker action on a request. The lock
// of the request's kind comes first (a request's kind never changes), then
// the request's row.
func (s *Service) transition(ctx context.Context, actor *accounts.Actor, id int64, fn func(tx bun.Tx, r *DeviceRequest) error) (*DeviceRequest, error) {
	var r *DeviceRequest
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if r, err = s.loadRequest(ctx, tx, actor, id, false); err != nil {
			return err
		}
		if err := s.Lending.LockKind(ctx, tx, r.DeviceKind); err != nil {
			return err
		}
		if r, err = s.loadRequest(ctx, tx, actor, id, true); err != nil {
			return err
		}
		return fn(tx, r)
	})
	return r, err
}

// Justify trims a written justification and checks it, noting a problem in
// bad under field: at least MinJustifyChars characters saying why, at most
// 2000.
func Justify(bad *apperr.Fields, field, text string) string {
	text = strings.TrimSpace(text)
	bad.Check(len([]rune(text)) < MinJustifyChars, field, fmt.Sprintf("is required: at least %d characters saying why", MinJustifyChars))
	bad.MaxLength(field, text, 2000)
	return text
}

func justify(justification string) (string, error) {
	var bad apperr.Fields
	justification = Justify(&bad, "justification", justification)
	return justification, bad.Err()
}

// Approve accepts a request that needed review; it goes to ready or the waitlist.
func (s *Service) Approve(ctx context.Context, actor *accounts.Actor, id int64, justification string) (*DeviceRequest, error) {
	justification = strings.TrimSpace(justification)
	var bad apperr.Fields
	bad.MaxLength("justification", justification, 2000)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, id, func(tx bun.Tx, r *DeviceRequest) error {
		if err := s.move(ctx, tx, actor, r, []RequestStatus{NeedsReviewed}, Approved, justification); err != nil {
			return err
		}
		return s.place(ctx, tx, actor, r)
	})
}

// Deny refuses a request that is not yet fulfilled, with a reason.
func (s *Service) Deny(ctx context.Context, actor *accounts.Actor, id int64, justification string) (*DeviceRequest, error) {
	j, err := justify(justification)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, id, func(tx bun.Tx, r *DeviceRequest) error {
		wasReady := r.Status == Ready
		if err := s.move(ctx, tx, actor, r, []RequestStatus{NeedsReviewed, Approved, Waitlisted, Ready}, Denied, j); err != nil {
			return err
		}
		if wasReady {
			return s.passOn(ctx, tx, actor, r)
		}
		return nil
	})
}

// Override approves a denied request against the rules, with a written
// justification; like every transition it is audited.
func (s *Service) Override(ctx context.Context, actor *accounts.Actor, id int64, justification string) (*DeviceRequest, error) {
	j, err := justify(justification)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, actor, id, func(tx bun.Tx, r *DeviceRequest) error {
		if err := s.move(ctx, tx, actor, r, []RequestStatus{Denied}, Approved, j); err != nil {
			return err
		}
		return s.place(ctx, tx, actor, r)
	})
}

// Cancel withdraws an open request. A ready request's device goes to the
// head of the waitlist.
func (s *Service) Cancel(ctx context.Context, actor *accounts.Actor, id int64) (*DeviceRequest, error) {
	return s.transition(ctx, actor, id, func(tx bun.Tx, r *DeviceRequest) error {
		wasReady := r.Status == Ready
		// A denied request may be cancelled too: it still refers the client
		// to the program, and a referral made by mistake must be undoable.
		if err := s.move(ctx, tx, actor, r, append([]RequestStatus{Denied}, openStatuses...), Cancelled, ""); err != nil {
			return err
		}
		if wasReady {
			return s.passOn(ctx, tx, actor, r)
		}
		return nil
	})
}

// passOn releases the device a request that is no longer ready held, and
// gives it to the head of the line.
func (s *Service) passOn(ctx context.Context, tx bun.Tx, actor *accounts.Actor, r *DeviceRequest) error {
	if _, err := s.Lending.Release(ctx, tx, actor, r.ID); err != nil {
		return err
	}
	r.ReservedDeviceID = nil
	return s.promote(ctx, tx, actor, r.DeviceKind)
}

// promote gives free devices of kind to the head of its waitlist, one by
// one, while both last: each request served becomes ready, holding its
// device. The caller holds the kind's lock (every caller took it before
// it changed the kind's free devices; taking it again would cost a round
// trip and change nothing).
func (s *Service) promote(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind string) error {
	for {
		head := new(DeviceRequest)
		// The status is written into the statement, not a parameter: the
		// waitlist's index is partial (status = 'waitlisted'), and a plan
		// kept for any status could not use it (PostgreSQL would scan the
		// table or plan the query anew each time).
		err := waitlistHead.ScanOne(ctx, tx, func(p storage.Param) storage.Query {
			return tx.NewSelect().Model((*DeviceRequest)(nil)).Where("r.device_kind = ? AND r.status = ?", p(0), Waitlisted).
				OrderExpr("r.priority DESC, r.waitlisted_at, r.id").Limit(1)
		}, []any{kind}, head)
		if apperr.Is(storage.Err(err, "request"), apperr.NotFound) {
			return nil
		}
		if err != nil {
			return storage.Err(err, "waitlist")
		}
		id, err := s.Lending.Reserve(ctx, tx, actor, kind, head.ID)
		if err != nil || id == 0 {
			return err
		}
		if err := s.move(ctx, tx, actor, head, []RequestStatus{Waitlisted}, Ready, ""); err != nil {
			return err
		}
	}
}

// DeviceFreed is called, inside the transaction that frees it, when a
// device of kind becomes available and held for no one: the head of that
// waitlist becomes ready, holding it.
func (s *Service) DeviceFreed(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind string) error {
	return s.promote(ctx, tx, actor, kind)
}

// ReservationLost is called, inside the transaction that released it, when
// the device a ready request held went out of service (to repair, retired).
// The request holds another free device of its kind if there is one, else it
// goes back to the waitlist at the place it had.
func (s *Service) ReservationLost(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID int64) error {
	r := new(DeviceRequest)
	if err := storage.Locked(tx.NewSelect().Model(r).Where("r.id = ?", requestID)).Scan(ctx); err != nil {
		return storage.Err(err, "request")
	}
	if r.Status != Ready {
		return nil
	}
	id, err := s.Lending.Reserve(ctx, tx, actor, r.DeviceKind, r.ID)
	if err != nil || id != 0 {
		return err
	}
	return s.move(ctx, tx, actor, r, []RequestStatus{Ready}, Waitlisted, "")
}

// The waitlist's head and a client's latest request for a kind: read in
// every promotion and every walk-in loan, kept prepared.
var waitlistHead, latestRequest storage.HotQuery

// WalkIn checks, inside the loan's transaction, that a client may be lent
// a device of kind without a request. Refused when they have an open
// request for that kind (the loan goes against it, in its turn) or when
// their latest request for it was denied (a coordinator overrides the
// denial instead, with its justification on the request).
func (s *Service) WalkIn(ctx context.Context, tx bun.Tx, clientID int64, kind string) error {
	last := new(DeviceRequest)
	err := latestRequest.ScanOne(ctx, tx, func(p storage.Param) storage.Query {
		return tx.NewSelect().Model((*DeviceRequest)(nil)).Column("r.id", "r.status").Where("r.client_id = ? AND r.device_kind = ?", p(0), p(1)).
			OrderExpr("r.created_at DESC, r.id DESC").Limit(1)
	}, []any{clientID, kind}, last)
	if apperr.Is(storage.Err(err, "request"), apperr.NotFound) {
		return nil
	}
	if err != nil {
		return storage.Err(err, "requests")
	}
	switch {
	case last.Status == Ready:
		return apperr.New(apperr.Conflict, "the client's request %d for a %s is ready: lend against it (request_id %d) rather than as a walk-in", last.ID, kind, last.ID)
	case containsStatus(openStatuses, last.Status):
		return apperr.New(apperr.Conflict, "the client has request %d for a %s, which is %s: a walk-in loan would pass everyone waiting; lend against the request when it is ready, or cancel it first",
			last.ID, kind, last.Status)
	case last.Status == Denied:
		return apperr.New(apperr.Conflict, "the client's request %d for a %s was denied: to lend one anyway, override the denial (POST /api/v1/requests/%d/override, with a justification) and lend against the request",
			last.ID, kind, last.ID)
	}
	return nil
}

// Fulfil links a ready request to the loan issued against it, inside the
// loan's transaction. The request must be for that client and kind. A
// request of another client, or one the actor may not see, is answered as
// one that does not exist, so that no other client's requests show through.
func (s *Service) Fulfil(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID, clientID int64, kind string, loanID int64) error {
	r := new(DeviceRequest)
	q := tx.NewSelect().Model(r).Where("r.id = ? AND r.client_id = ?", requestID, clientID)
	if err := storage.Locked(s.scope(tx, q, actor)).Scan(ctx); err != nil {
		if apperr.Is(storage.Err(err, "request"), apperr.NotFound) {
			return (apperr.Fields{"request_id": "no request of this client has this id"}).Err()
		}
		return storage.Err(err, "request")
	}
	if r.DeviceKind != kind {
		return (apperr.Fields{"request_id": "is a request for a " + r.DeviceKind + ", not a " + kind}).Err()
	}
	if err := s.move(ctx, tx, actor, r, []RequestStatus{Ready}, Fulfilled, ""); err != nil {
		return err
	}
	_, err := tx.NewUpdate().Model(r).Set("loan_id = ?", loanID).WherePK().Exec(ctx)
	return storage.Err(err, "request")
}

// WaitlistEntry is one request on a waitlist, with its place and why.
type WaitlistEntry struct {
	Position        int        `json:"position"`
	RequestID       int64      `json:"request_id"`
	ClientID        int64      `json:"client_id"`
	DeviceKind      string     `json:"device_kind"`
	Urgency         string     `json:"urgency"`
	Score           int        `json:"score"`
	PriorityReasons []string   `json:"priority_reasons"`
	WaitlistedAt    *time.Time `json:"waitlisted_at"`
}

// Waitlist returns the waiting requests for a kind (or every kind), in the
// order they will be served. The read is recorded (the priority reasons
// quote clients' needs), as one waitlist.viewed event naming the requests
// and clients.
func (s *Service) Waitlist(ctx context.Context, actor *accounts.Actor, kind string, page storage.Page) ([]WaitlistEntry, int, error) {
	if kind != "" && !contains(DeviceKinds, kind) {
		return nil, 0, (apperr.Fields{"kind": "must be one of phone, tablet, laptop, hotspot, other"}).Err()
	}
	var rows []struct {
		DeviceRequest
		Position int `bun:"position"`
	}
	// The position is the place in its own kind's line. For one kind the
	// waitlist index gives the order and the position is the row's place
	// in the page; across kinds a window function numbers each line.
	q := s.DB.NewSelect().Model((*DeviceRequest)(nil)).
		Column("r.id", "r.client_id", "r.device_kind", "r.urgency", "r.priority", "r.priority_reasons", "r.waitlisted_at").
		Where("r.status = ?", Waitlisted)
	if kind != "" {
		q.Where("r.device_kind = ?", kind).OrderExpr("r.priority DESC, r.waitlisted_at, r.id")
	} else {
		q.ColumnExpr("ROW_NUMBER() OVER (PARTITION BY r.device_kind ORDER BY r.priority DESC, r.waitlisted_at, r.id) AS position").
			OrderExpr("r.device_kind, position")
	}
	total, err := s.DB.NewSelect().Model((*DeviceRequest)(nil)).Where("r.status = ?", Waitlisted).
		Apply(func(c *bun.SelectQuery) *bun.SelectQuery {
			if kind != "" {
				c.Where("r.device_kind = ?", kind)
			}
			return c
		}).Count(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "waitlist")
	}
	if err := page.Apply(q).Scan(ctx, &rows); err != nil {
		return nil, 0, storage.Err(err, "waitlist")
	}
	out := make([]WaitlistEntry, len(rows))
	requests, clients := make([]int64, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		requests[i], clients[i] = r.ID, r.ClientID
		text, err := s.unseal(r.ID, "priority_reasons", r.PriorityJSON)
		if err != nil {
			return nil, 0, err
		}
		reasons := []string{}
		json.Unmarshal([]byte(text), &reasons)
		if kind != "" {
			r.Position = page.Offset + i + 1
		}
		out[i] = WaitlistEntry{Position: r.Position, RequestID: r.ID, ClientID: r.ClientID, DeviceKind: r.DeviceKind,
			Urgency: r.Urgency, Score: r.Priority, PriorityReasons: reasons, WaitlistedAt: r.WaitlistedAt}
	}
	err = s.recordList(ctx, actor, "waitlist.viewed", "waitlist", requests, clients, map[string]any{"total": total,
		"kind": kind, "offset": page.Offset, "limit": page.Limit})
	if err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}

// Referrals selects the device requests by which the client whose id is
// in the column clientID (of the enclosing query) was referred to the
// program: one a social worker or an admin filed, not cancelled since.
// Coordinators may see the clients referred.
func (s *Service) Referrals(db bun.IDB, clientID bun.Ident) *bun.SelectQuery {
	return db.NewSelect().Table("device_requests").ColumnExpr("1").Where("client_id = ?", clientID).Where("referral AND status <> ?", Cancelled)
}

// CountRequests counts the requests in status that the actor may see, as
// Requests would list them, without reading them (nor recording a read:
// a count names no client).
func (s *Service) CountRequests(ctx context.Context, actor *accounts.Actor, status RequestStatus) (int, error) {
	n, err := s.scope(s.DB, s.DB.NewSelect().Model((*DeviceRequest)(nil)), actor).Where("r.status = ?", status).Count(ctx)
	return int(n), storage.Err(err, "requests")
}

// RequestsOfClient returns every device request filed for a client, oldest
// first, for a caller that has already checked the actor may see everything
// about the client (a client's export).
func (s *Service) RequestsOfClient(ctx context.Context, db bun.IDB, clientID int64) ([]DeviceRequest, error) {
	out := []DeviceRequest{}
	if err := s.selectRequests(db, &out).Where("r.client_id = ?", clientID).OrderExpr("r.id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "requests")
	}
	for i := range out {
		if err := s.open(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
