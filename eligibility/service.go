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
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// ClientFacts is what eligibility needs to know about a client: their
// situation, and the ids of the clients in their household (them included).
// The clients package provides it, applying its visibility rules.
type ClientFacts interface {
	// EligibilityFacts reads through db, so that a decision made inside a
	// transaction reads what that transaction sees.
	EligibilityFacts(ctx context.Context, db bun.IDB, actor *accounts.Actor, clientID int64) (Situation, []int64, error)
	// VisibleIDs selects the ids of the clients actor may see.
	VisibleIDs(db bun.IDB, actor *accounts.Actor) *bun.SelectQuery
	// CheckReference reports field invalid unless actor may see client id,
	// in the same words whether the client exists or not.
	CheckReference(ctx context.Context, db bun.IDB, actor *accounts.Actor, field string, id int64) error
}

// LendingFacts is what eligibility needs to know about loans and devices.
// The inventory package provides it.
type LendingFacts interface {
	EligibilityHistory(ctx context.Context, db bun.IDB, clientID int64, household []int64) (History, error)
	// LockKind serializes, until tx ends, every change to the free devices
	// of a kind and to whom they are held for. Taken before any row of a
	// request or a device is locked.
	LockKind(ctx context.Context, tx bun.Tx, kind string) error
	// Reserve holds a free device of a kind for a request and returns its
	// id, or 0 when none is free.
	Reserve(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind string, requestID int64) (int64, error)
	// Release ends a request's hold on its device, and returns the
	// device's id (0 when it held none).
	Release(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID int64) (int64, error)
	// ReservedDevice selects the id of the device held for the request
	// whose id is in the named column, as a subquery.
	ReservedDevice(db bun.IDB, requestID string) *bun.SelectQuery
}

// TrainingFacts is what eligibility needs to know about a client's
// training. The training package provides it.
type TrainingFacts interface {
	EligibilityTraining(ctx context.Context, db bun.IDB, clientID int64) ([]TrainingCredit, error)
}

// Service stores rule sets and guideline tables and makes decisions.
type Service struct {
	DB       bun.IDB
	Now      func() time.Time
	Location *time.Location
	Clients  ClientFacts
	Lending  LendingFacts
	// Training may be nil: then no training is on record.
	Training TrainingFacts
	// Keys seal what a device request says of its client (sealed.go);
	// required to file or read requests.
	Keys *keyring.Ring
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// StoredRuleSet is one version of the agency's rules.
type StoredRuleSet struct {
	bun.BaseModel `bun:"table:eligibility_rule_sets,alias:rs"`

	Version   int       `bun:"version,pk" json:"version"`
	Name      string    `bun:"name" json:"name"`
	Body      string    `bun:"body" json:"-"`
	CreatedBy *int64    `bun:"created_by" json:"created_by"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
	// RuleSet is Body, parsed.
	RuleSet *RuleSet `bun:"-" json:"rule_set"`
}

func (r *StoredRuleSet) parse() error {
	rs, err := ParseRuleSet([]byte(r.Body))
	if err != nil {
		return apperr.Wrap(err, "stored rule set is unreadable")
	}
	r.RuleSet = rs
	return nil
}

// CurrentRuleSet returns the newest rule set, installing the default as
// version 1 on a database that has none.
func (s *Service) CurrentRuleSet(ctx context.Context) (*StoredRuleSet, error) {
	r := new(StoredRuleSet)
	err := s.DB.NewSelect().Model(r).OrderExpr("version DESC").Limit(1).Scan(ctx)
	if apperr.Is(storage.Err(err, "rule set"), apperr.NotFound) {
		def, _ := ParseRuleSet([]byte(DefaultRuleSet))
		body, _ := json.Marshal(def)
		r = &StoredRuleSet{Version: 1, Name: def.Name, Body: string(body), CreatedAt: s.now()}
		if _, err := s.DB.NewInsert().Model(r).Exec(ctx); err != nil && !storage.IsUniqueViolation(err) {
			return nil, storage.Err(err, "rule set")
		}
		return s.CurrentRuleSet(ctx) // another instance may have installed it first
	}
	if err != nil {
		return nil, storage.Err(err, "rule set")
	}
	return r, r.parse()
}

// RuleSetVersion returns one version.
func (s *Service) RuleSetVersion(ctx context.Context, version int) (*StoredRuleSet, error) {
	r := new(StoredRuleSet)
	if err := s.DB.NewSelect().Model(r).Where("version = ?", version).Scan(ctx); err != nil {
		return nil, storage.Err(err, "rule set version")
	}
	return r, r.parse()
}

// RuleSetVersions lists every version, newest first.
func (s *Service) RuleSetVersions(ctx context.Context, page storage.Page) ([]StoredRuleSet, int, error) {
	if _, err := s.CurrentRuleSet(ctx); err != nil { // so a new install lists its default
		return nil, 0, err
	}
	out := []StoredRuleSet{}
	total, err := page.Apply(s.DB.NewSelect().Model(&out).OrderExpr("version DESC")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "rule sets")
	}
	for i := range out {
		if err := out[i].parse(); err != nil {
			return nil, 0, err
		}
	}
	return out, int(total), nil
}

// ReplaceRuleSet checks a rule set written as JSON and stores it as the
// next version. Past decisions keep the version they used.
func (s *Service) ReplaceRuleSet(ctx context.Context, actor *accounts.Actor, data []byte) (*StoredRuleSet, error) {
	guidelines, err := s.Guidelines(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRuleSet(data)
	problems := map[string]string{}
	if ve, ok := err.(*ValidationError); ok {
		problems = ve.Problems
	}
	// Income rules look up the region's guideline table: a region with
	// none is refused, with the rule set's other problems.
	var named struct{ Region string }
	json.Unmarshal(data, &named)
	if _, ok := problems["region"]; !ok && strings.TrimSpace(named.Region) != "" && !guidelines.HasRegion(named.Region) {
		problems["region"] = fmt.Sprintf("no guideline table is loaded for region %q: load one first, or name one that has a table (%s)",
			named.Region, strings.Join(guidelines.Regions(), ", "))
	}
	if len(problems) > 0 {
		return nil, invalid("the rule set is not valid", &ValidationError{Problems: problems})
	}
	if _, err := s.CurrentRuleSet(ctx); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(rs)
	r := &StoredRuleSet{Name: rs.Name, Body: string(body), CreatedBy: actor.IDPtr(), CreatedAt: s.now(), RuleSet: rs}
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := tx.NewRaw("SELECT COALESCE(MAX(version), 0) + 1 FROM eligibility_rule_sets").Scan(ctx, &r.Version); err != nil {
			return storage.Err(err, "rule set")
		}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if storage.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "someone else replaced the rules at the same moment; check the current version and try again")
			}
			return storage.Err(err, "rule set")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: r.CreatedAt, ActorID: actor.IDPtr(), Action: "eligibility.rules_replaced",
			SubjectType: "rule_set", SubjectID: int64(r.Version)}, map[string]any{"version": r.Version, "name": r.Name})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// invalid turns a *ValidationError into an apperr naming each bad path.
func invalid(message string, err error) error {
	ve, ok := err.(*ValidationError)
	if !ok {
		return err
	}
	fields := map[string]string{}
	for path, problem := range ve.Problems {
		if path == "" {
			path = "body"
		}
		fields[path] = problem
	}
	return &apperr.Error{Code: apperr.Invalid, Message: message, Fields: fields}
}

// storedGuideline is a guideline table an admin loaded.
type storedGuideline struct {
	bun.BaseModel `bun:"table:guideline_tables,alias:gt"`

	ID        string    `bun:"id,pk"`
	Region    string    `bun:"region"`
	Year      int       `bun:"year"`
	Body      string    `bun:"body"`
	CreatedBy *int64    `bun:"created_by"`
	CreatedAt time.Time `bun:"created_at"`
}

// Guidelines returns the shipped tables and those an admin loaded.
func (s *Service) Guidelines(ctx context.Context) (Guidelines, error) {
	shipped, err := Shipped()
	if err != nil {
		return nil, apperr.Wrap(err, "shipped guideline tables")
	}
	out := append([]Guideline(nil), shipped...)
	var stored []storedGuideline
	if err := s.DB.NewSelect().Model(&stored).OrderExpr("id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "guideline tables")
	}
	for _, st := range stored {
		var g Guideline
		if err := json.Unmarshal([]byte(st.Body), &g); err != nil {
			return nil, apperr.Wrap(err, "stored guideline table "+st.ID)
		}
		out = append(out, g)
	}
	return out, nil
}

// Guideline returns the guideline table with id, shipped or loaded.
func (s *Service) Guideline(ctx context.Context, id string) (*Guideline, error) {
	all, err := s.Guidelines(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "guideline table not found")
}

// LoadGuideline adds a guideline table (Alaska's, next year's, another
// country's), checked first. Its id must be new.
func (s *Service) LoadGuideline(ctx context.Context, actor *accounts.Actor, g Guideline) (*Guideline, error) {
	if err := g.Validate(); err != nil {
		return nil, invalid("the guideline table is not valid", err)
	}
	shipped, _ := Shipped()
	for _, sh := range shipped {
		if sh.ID == g.ID {
			return nil, &apperr.Error{Code: apperr.Conflict, Message: "a shipped table has this id",
				Fields: map[string]string{"id": "is the id of a table that ships with DeviceBank; choose another"}}
		}
	}
	// One table per region and year, or which one applies would be a guess.
	loaded, err := s.Guidelines(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range loaded {
		if l.ID == g.ID {
			return nil, &apperr.Error{Code: apperr.Conflict, Message: "a table with this id is already loaded",
				Fields: map[string]string{"id": "is already in use"}}
		}
	}
	for _, l := range loaded {
		if l.Region == g.Region && l.Year == g.Year {
			return nil, &apperr.Error{Code: apperr.Conflict,
				Message: fmt.Sprintf("table %s already covers region %s in %d", l.ID, l.Region, l.Year),
				Fields:  map[string]string{"year": "region " + g.Region + " already has a table for this year"}}
		}
	}
	body, _ := json.Marshal(g)
	st := &storedGuideline{ID: g.ID, Region: g.Region, Year: g.Year, Body: string(body), CreatedBy: actor.IDPtr(), CreatedAt: s.now()}
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(st).Exec(ctx); err != nil {
			if storage.IsUniqueViolation(err) {
				return &apperr.Error{Code: apperr.Conflict, Message: "a table with this id is already loaded",
					Fields: map[string]string{"id": "is already in use"}}
			}
			return storage.Err(err, "guideline table")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: st.CreatedAt, ActorID: actor.IDPtr(), Action: "eligibility.guideline_loaded",
			SubjectType: "guideline_table", SubjectID: 0}, map[string]any{"id": g.ID, "region": g.Region, "year": g.Year, "source": g.Source})
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// Check decides whether a client the actor may see qualifies for a device
// of kind today, under the current rules, and saves no decision.
func (s *Service) Check(ctx context.Context, actor *accounts.Actor, clientID int64, req Request) (*Decision, error) {
	p, err := s.policy(ctx)
	if err != nil {
		return nil, err
	}
	d, _, err := s.decide(ctx, s.DB, actor, clientID, req, p)
	return d, err
}

// policy is what a decision is made under: the current rule set (installing
// the default on a new database) and the guideline tables.
type policy struct {
	rules  *StoredRuleSet
	guides Guidelines
}

func (s *Service) policy(ctx context.Context) (policy, error) {
	rules, err := s.CurrentRuleSet(ctx)
	if err != nil {
		return policy{}, err
	}
	guides, err := s.Guidelines(ctx)
	return policy{rules: rules, guides: guides}, err
}

// decide makes a decision under p from the client's facts as db sees them
// (a transaction's, when the decision is stored), and returns it with the
// client's needs flags (for the waitlist score).
func (s *Service) decide(ctx context.Context, db bun.IDB, actor *accounts.Actor, clientID int64, req Request, p policy) (*Decision, []string, error) {
	var bad apperr.Fields
	bad.Check(!contains(DeviceKinds, req.DeviceKind), "device_kind", "must be one of phone, tablet, laptop, hotspot, other")
	clientErr := s.Clients.CheckReference(ctx, db, actor, "client_id", clientID)
	if err := apperr.Join(clientErr, bad.Err()); err != nil {
		return nil, nil, err
	}
	// The read of the client's record is recorded, so it comes after
	// everything that could fail without it.
	situation, household, err := s.Clients.EligibilityFacts(ctx, db, actor, clientID)
	if err != nil {
		return nil, nil, err
	}
	history, err := s.Lending.EligibilityHistory(ctx, db, clientID, household)
	if err != nil {
		return nil, nil, err
	}
	if s.Training != nil {
		if history.Training, err = s.Training.EligibilityTraining(ctx, db, clientID); err != nil {
			return nil, nil, err
		}
	}
	d := Evaluate(Input{Situation: situation, Request: req, History: history, RuleSet: p.rules.RuleSet,
		Version: p.rules.Version, Guidelines: p.guides, On: calendar.Today(s.Now(), s.Location)})
	return &d, situation.Needs, nil
}
