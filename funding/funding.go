// Package funding owns funding sources: the grants and budgets that pay
// for devices and data plans. Admins manage them; coordinators choose one
// when they take in a device or a data plan; a funder user is linked by an
// admin to the sources they fund, and sees those only.
//
// It is a package of its own rather than part of inventory because three
// domains lean on it: inventory (devices and data plans name a source),
// accounts (a funder's links) and the reports (a funder's figures are
// their sources' only). Each asks through a small interface it declares,
// satisfied by Service.
package funding

import (
	"context"
	"slices"
	"strconv"
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

// Limits of what is stored about a funding source, in characters.
const (
	MaxNameLength      = 200
	MaxFunderLength    = 200
	MaxReferenceLength = 100
	MaxNotesLength     = 2000
	// MaxLinks bounds the funding sources one funder is linked to.
	MaxLinks = 100
)

// Source is a funding source.
type Source struct {
	bun.BaseModel `bun:"table:funding_sources,alias:fs"`

	ID   int64  `bun:"id,pk,autoincrement" json:"id"`
	Name string `bun:"name" json:"name"`
	// NameKey is the name as unique: Go's lower case, set on every write
	// (BeforeAppendModel), so that names differ by more than case alike
	// on both databases.
	NameKey            string        `bun:"name_key" json:"-"`
	FunderOrganization string        `bun:"funder_organization" json:"funder_organization"`
	GrantReference     string        `bun:"grant_reference" json:"grant_reference"`
	GrantStartsOn      calendar.Date `bun:"grant_starts_on,type:date,nullzero" json:"grant_starts_on"`
	GrantEndsOn        calendar.Date `bun:"grant_ends_on,type:date,nullzero" json:"grant_ends_on"`
	Notes              string        `bun:"notes" json:"notes"`
	CreatedAt          time.Time     `bun:"created_at" json:"created_at"`
	UpdatedAt          time.Time     `bun:"updated_at" json:"updated_at"`
	// SortKey orders sources by name alike on every database.
	SortKey []byte `bun:"sort_key" json:"-"`
}

var _ bun.BeforeAppendModelHook = (*Source)(nil)

// BeforeAppendModel keeps the name key and the sort key in step with the
// name on every insert and update.
func (s *Source) BeforeAppendModel(_ context.Context, q bun.Query) error {
	switch q.(type) {
	case *bun.InsertQuery, *bun.UpdateQuery:
		s.NameKey = nameKey(s.Name)
		s.SortKey = storage.SortKey(s.Name)
	}
	return nil
}

// nameKey is what two names that are the same source have in common.
func nameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Input is a funding source as entered; for an update, fields not given
// stay as they are. The grant dates may be given as null: no date.
type Input struct {
	Name               *string                       `json:"name"`
	FunderOrganization *string                       `json:"funder_organization"`
	GrantReference     *string                       `json:"grant_reference"`
	GrantStartsOn      optional.Field[calendar.Date] `json:"grant_starts_on"`
	GrantEndsOn        optional.Field[calendar.Date] `json:"grant_ends_on"`
	Notes              *string                       `json:"notes"`
}

func (in Input) apply(s *Source) error {
	for dst, src := range map[*string]*string{&s.Name: in.Name, &s.FunderOrganization: in.FunderOrganization,
		&s.GrantReference: in.GrantReference, &s.Notes: in.Notes} {
		optional.AssignTrimmed(dst, src)
	}
	if in.GrantStartsOn.Set {
		s.GrantStartsOn = in.GrantStartsOn.Value // the zero date when null
	}
	if in.GrantEndsOn.Set {
		s.GrantEndsOn = in.GrantEndsOn.Value
	}
	var bad apperr.Fields
	bad.Check(s.Name == "", "name", "is required")
	bad.MaxLength("name", s.Name, MaxNameLength)
	bad.MaxLength("funder_organization", s.FunderOrganization, MaxFunderLength)
	bad.MaxLength("grant_reference", s.GrantReference, MaxReferenceLength)
	bad.MaxLength("notes", s.Notes, MaxNotesLength)
	startsOK, endsOK := s.GrantStartsOn.Check(&bad, "grant_starts_on"), s.GrantEndsOn.Check(&bad, "grant_ends_on")
	bad.Check(startsOK && endsOK && !s.GrantStartsOn.IsZero() && !s.GrantEndsOn.IsZero() && s.GrantEndsOn.Before(s.GrantStartsOn),
		"grant_ends_on", "must not be before grant_starts_on")
	return bad.Err()
}

func (s *Source) fields() map[string]any {
	return map[string]any{"name": s.Name, "funder_organization": s.FunderOrganization,
		"grant_reference": s.GrantReference, "grant_starts_on": s.GrantStartsOn, "grant_ends_on": s.GrantEndsOn,
		"notes": s.Notes}
}

func event(actor *accounts.Actor, at time.Time, action string, s *Source) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "funding_source", SubjectID: s.ID}
}

// conflict turns a unique violation on the name into a field error.
func conflict(err error) error {
	if storage.UniqueOn(err, "name_key") {
		return &apperr.Error{Code: apperr.Conflict, Message: "another funding source has this name",
			Fields: map[string]string{"name": "is already used by another funding source (names are compared ignoring case)"}}
	}
	return storage.Err(err, "funding source")
}

// Service manages funding sources and which funders they are linked to.
type Service struct {
	DB  bun.IDB
	Now func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// Create adds a funding source.
func (s *Service) Create(ctx context.Context, actor *accounts.Actor, in Input) (*Source, error) {
	src := &Source{}
	if err := in.apply(src); err != nil {
		return nil, err
	}
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		src.CreatedAt = s.now()
		src.UpdatedAt = src.CreatedAt
		if _, err := tx.NewInsert().Model(src).Exec(ctx); err != nil {
			return conflict(err)
		}
		return audit.Record(ctx, tx, event(actor, src.CreatedAt, "funding_source.created", src), src.fields())
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// Update changes a funding source.
func (s *Service) Update(ctx context.Context, actor *accounts.Actor, id int64, in Input) (*Source, error) {
	src := new(Source)
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := storage.Locked(tx.NewSelect().Model(src).Where("id = ?", id)).Scan(ctx); err != nil {
			return storage.Err(err, "funding source")
		}
		before := src.fields()
		if err := in.apply(src); err != nil {
			return err
		}
		changes := audit.Diff(before, src.fields())
		if len(changes) == 0 {
			return nil
		}
		src.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(src).ExcludeColumn("id", "created_at").WherePK().Exec(ctx); err != nil {
			return conflict(err)
		}
		return audit.Record(ctx, tx, event(actor, src.UpdatedAt, "funding_source.updated", src), changes)
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// visible narrows q (over funding_sources AS fs) to the sources actor may
// see: every one for those who may read funding sources, save a funder,
// who sees those they are linked to.
func visible(q *bun.SelectQuery, actor *accounts.Actor) *bun.SelectQuery {
	switch {
	case !actor.Can(accounts.ReadFunding):
		return q.Where("FALSE")
	case actor.Role == accounts.Funder:
		return q.Where("fs.id IN (SELECT ufs.funding_source_id FROM user_funding_sources AS ufs WHERE ufs.user_id = ?)", actor.ID)
	}
	return q
}

// Get returns one funding source actor may see; one they may not is not
// found, as one that does not exist.
func (s *Service) Get(ctx context.Context, actor *accounts.Actor, id int64) (*Source, error) {
	src := new(Source)
	if err := visible(s.DB.NewSelect().Model(src).Where("fs.id = ?", id), actor).Scan(ctx); err != nil {
		return nil, storage.Err(err, "funding source")
	}
	return src, nil
}

// List returns the funding sources actor may see, by name.
func (s *Service) List(ctx context.Context, actor *accounts.Actor, page storage.Page) ([]Source, int, error) {
	out := []Source{}
	q := visible(s.DB.NewSelect().Model(&out), actor).OrderExpr("fs.sort_key, fs.id")
	total, err := page.Apply(q).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "funding sources")
	}
	return out, int(total), nil
}

// Name returns the name of funding source id, and whether there is one.
// Inventory checks the source a device or a data plan names with it.
func (s *Service) Name(ctx context.Context, db bun.IDB, id int64) (string, bool, error) {
	var name string
	err := db.NewSelect().Model((*Source)(nil)).Column("name").Where("id = ?", id).Scan(ctx, &name)
	if err != nil {
		if apperr.Is(storage.Err(err, "funding source"), apperr.NotFound) {
			return "", false, nil
		}
		return "", false, storage.Err(err, "funding source")
	}
	return name, true, nil
}

// Named returns the id and name of the funding source called name,
// ignoring case and surrounding space; id 0 when there is none.
func (s *Service) Named(ctx context.Context, db bun.IDB, name string) (int64, string, error) {
	var row struct {
		ID   int64  `bun:"id"`
		Name string `bun:"name"`
	}
	err := db.NewSelect().Model((*Source)(nil)).Column("id", "name").Where("name_key = ?", nameKey(name)).Scan(ctx, &row)
	if err != nil {
		if apperr.Is(storage.Err(err, "funding source"), apperr.NotFound) {
			return 0, "", nil
		}
		return 0, "", storage.Err(err, "funding source")
	}
	return row.ID, row.Name, nil
}

// NameQuery selects the name of the funding source whose id is in column
// (such as "d.funding_source_id"), as a subquery for a column list.
func (s *Service) NameQuery(db bun.IDB, column string) *bun.SelectQuery {
	return db.NewSelect().Model((*Source)(nil)).Column("fs.name").Where("fs.id = " + column)
}

// UserFundingSource links a funder user to a funding source.
type UserFundingSource struct {
	bun.BaseModel `bun:"table:user_funding_sources,alias:ufs"`

	UserID          int64 `bun:"user_id,pk"`
	FundingSourceID int64 `bun:"funding_source_id,pk"`
}

// Linked returns the ids of the funding sources each of users is linked
// to, in order; a user with none has no entry.
func (s *Service) Linked(ctx context.Context, db bun.IDB, users []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	if len(users) == 0 {
		return out, nil
	}
	var links []UserFundingSource
	if err := db.NewSelect().Model(&links).Where("user_id IN (?)", bun.In(users)).
		OrderExpr("user_id, funding_source_id").Scan(ctx); err != nil {
		return nil, storage.Err(err, "funding source links")
	}
	for _, l := range links {
		out[l.UserID] = append(out[l.UserID], l.FundingSourceID)
	}
	return out, nil
}

// SetLinks replaces the funding sources user is linked to with ids (in
// any order; a repeated id counts once), in tx, which holds the user's
// row. An id that names no funding source is refused with a 422 on
// funding_source_ids. accounts.Service calls it; it checks the role.
func (s *Service) SetLinks(ctx context.Context, tx bun.Tx, user int64, ids []int64) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var bad apperr.Fields
	bad.Check(len(ids) > MaxLinks, "funding_source_ids", "at most "+strconv.Itoa(MaxLinks)+" funding sources")
	if err := bad.Err(); err != nil {
		return err
	}
	if len(ids) > 0 {
		// Funding sources are never removed, so one found here stays.
		var found []int64
		if err := tx.NewSelect().Model((*Source)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).
			Order("id").Scan(ctx, &found); err != nil {
			return storage.Err(err, "funding sources")
		}
		var missing []string
		for _, id := range ids {
			if _, ok := slices.BinarySearch(found, id); !ok {
				missing = append(missing, strconv.FormatInt(id, 10))
			}
		}
		bad.Check(len(missing) > 0, "funding_source_ids", "no funding source has the id "+strings.Join(missing, ", "))
		if err := bad.Err(); err != nil {
			return err
		}
	}
	if _, err := tx.NewDelete().Model((*UserFundingSource)(nil)).Where("user_id = ?", user).Exec(ctx); err != nil {
		return storage.Err(err, "funding source links")
	}
	if len(ids) == 0 {
		return nil
	}
	links := make([]UserFundingSource, len(ids))
	for i, id := range ids {
		links[i] = UserFundingSource{UserID: user, FundingSourceID: id}
	}
	_, err := tx.NewInsert().Model(&links).Exec(ctx)
	return storage.Err(err, "funding source links")
}

// Scope is which funding sources an actor's figures may cover.
type Scope struct {
	// All: every funding source, and devices and plans with none (admins
	// and coordinators).
	All bool
	// IDs are the sources a funder is linked to, in order, when not All:
	// empty for a funder linked to none, who sees nothing.
	IDs []int64
}

// ScopeOf returns the funding sources whose figures actor may see: every
// one for staff who may read them all, a funder's linked sources only
// (none: an empty list, never all), and none for anyone else.
func (s *Service) ScopeOf(ctx context.Context, actor *accounts.Actor) (Scope, error) {
	switch {
	case !actor.Can(accounts.ReadFunding):
		return Scope{IDs: []int64{}}, nil
	case actor.Role != accounts.Funder:
		return Scope{All: true}, nil
	}
	linked, err := s.Linked(ctx, s.DB, []int64{actor.ID})
	if err != nil {
		return Scope{}, err
	}
	ids := linked[actor.ID]
	if ids == nil {
		ids = []int64{}
	}
	return Scope{IDs: ids}, nil
}
