// Package clients owns the people the agency serves: their record, who their
// caseworker is, and who may see them.
//
// Visibility: a social worker sees their own clients (caseload); a
// coordinator sees the clients referred to the program: those for whom a
// social worker or an admin filed a device request, or booked a training
// place, that was not cancelled or withdrawn since; an admin sees everyone;
// a funder sees no one. A coordinator's own loans and bookings refer no one.
// A record the caller may not see is reported as one that does not exist,
// so its existence does not leak. Every read and every change is written to
// the audit trail: one event per record read, one per list read.
package clients

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"golang.org/x/text/language"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/phone"
	"github.com/devicebank/devicebank/storage"
)

// Channel is how a client wants to be reached.
type Channel string

const (
	SMS   Channel = "sms"
	Email Channel = "email"
	None  Channel = "none"
)

// Client is a person the agency serves.
type Client struct {
	bun.BaseModel `bun:"table:clients,alias:c"`

	ID int64 `bun:"id,pk,autoincrement" json:"id"`
	// Personal fields: sealed in the column personal, never stored plain
	// (sealed.go).
	CaseNumber        string  `bun:"-" json:"case_number"`
	FirstName         string  `bun:"-" json:"first_name"`
	LastName          string  `bun:"-" json:"last_name"`
	Phone             string  `bun:"-" json:"phone"`
	Email             string  `bun:"-" json:"email"`
	PreferredLanguage string  `bun:"preferred_language" json:"preferred_language"`
	PreferredChannel  Channel `bun:"preferred_channel" json:"preferred_channel"`
	HouseholdSize     int     `bun:"household_size" json:"household_size"`
	PostalCode        string  `bun:"-" json:"postal_code"`
	CaseworkerID      int64   `bun:"caseworker_id" json:"caseworker_id"`
	// Opted out: the client gets no reminders on that channel (a STOP
	// reply sets SMSOptedOut); their social worker is told instead.
	SMSOptedOut   bool `bun:"sms_opted_out" json:"sms_opted_out"`
	EmailOptedOut bool `bun:"email_opted_out" json:"email_opted_out"`

	// The situation eligibility rules look at. Confidential like the rest;
	// needs are kept plain, as the flags reports count.
	HouseholdID       *int64        `bun:"household_id" json:"household_id"`
	AnnualIncomeCents *int64        `bun:"-" json:"annual_income_cents"` // nil: not disclosed
	Programs          Codes         `bun:"-" json:"programs"`
	ProofVerifiedOn   calendar.Date `bun:"-" json:"proof_verified_on"`
	DateOfBirth       calendar.Date `bun:"-" json:"date_of_birth"`
	Needs             Codes         `bun:"needs,type:text" json:"needs"`

	CreatedAt time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt time.Time `bun:"updated_at" json:"updated_at"`
	// AnonymisedAt is when the client was erased (erase.go): no one sees
	// them since, and reports still count them.
	AnonymisedAt *time.Time `bun:"anonymised_at" json:"-"`

	// What the database holds of the fields above (sealed.go): the sealed
	// record, keyed digests to find a client by case number, phone or
	// email, and the plain attributes reports count by.
	Personal        string  `bun:"personal" json:"-"`
	PersonalKey     *int64  `bun:"personal_key" json:"-"` // the data key Personal is sealed under
	CaseNumberIndex string  `bun:"case_number_index" json:"-"`
	PhoneIndex      *string `bun:"phone_index" json:"-"`
	EmailIndex      *string `bun:"email_index" json:"-"`
	BirthYear       *int    `bun:"birth_year" json:"-"`
	PostalPrefix    string  `bun:"postal_prefix" json:"-"`
	// Keyed digests of the first characters of the case number and names,
	// which narrow a search (sealed.go).
	SearchCase  *string `bun:"search_case" json:"-"`
	SearchFirst *string `bun:"search_first" json:"-"`
	SearchLast  *string `bun:"search_last" json:"-"`
}

// Referrals is what this package needs to know of the records that refer
// a client to the program: a client's live referrals (device requests from
// the eligibility package, training places from the training package).
type Referrals interface {
	// Referrals selects the live referrals of the client whose id is in
	// the column clientID of the enclosing query.
	Referrals(db bun.IDB, clientID bun.Ident) *bun.SelectQuery
}

// Service manages client records.
type Service struct {
	DB  bun.IDB
	Now func() time.Time
	// Location is the agency's time zone: dates such as a proof's must not
	// be later than the agency's today.
	Location *time.Location
	// Referrals are the records that make a client visible to a
	// coordinator: device requests and training places a social worker or
	// an admin made.
	Referrals []Referrals
	// Region is the country (ISO 3166 code, such as US) in which a phone
	// number written without its country code is read; "" means
	// phone.DefaultRegion.
	Region string
	// Keys seal the personal fields and make the digests kept beside them.
	Keys *keyring.Ring
	// Requests erase what a client's device requests say of them, when
	// the client is erased (Anonymise).
	Requests Redactor

	ids           idPool
	listingsOnce  sync.Once
	listingsCache *lru.Cache[int64, listing]
}

// Redactor erases, within db, what the records of another domain say of
// clients being erased: the eligibility package's device requests.
type Redactor interface {
	Redact(ctx context.Context, db bun.IDB, clientIDs []int64) error
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) today() calendar.Date { return calendar.Today(s.Now(), s.Location) }

// household decides a client's household: the one asked for, which must
// hold a client the actor may see (an admin may name any); a new one of
// their own when none is given on creation, or null is given; else the
// current one.
func (s *Service) household(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requested optional.Field[int64], current *int64) (*int64, error) {
	if requested.Set && !requested.Null {
		id := requested.Value
		if current != nil && *current == id {
			return current, nil
		}
		q := s.visible(tx, tx.NewSelect().Model((*Client)(nil)).Where("c.household_id = ?", id), actor)
		ok, err := q.Exists(ctx)
		if err != nil {
			return nil, storage.Err(err, "household")
		}
		if !ok {
			return nil, (apperr.Fields{"household_id": "no household of a client you can see has this id"}).Err()
		}
		return &id, nil
	}
	if current != nil && !requested.Set {
		return current, nil
	}
	var id int64
	if err := tx.NewRaw("INSERT INTO households (created_at) VALUES (?) RETURNING id", s.now()).Scan(ctx, &id); err != nil {
		return nil, storage.Err(err, "household")
	}
	return &id, nil
}

// CaseloadIDs selects the ids of the clients whose caseworker is workerID.
// Other packages use it to scope rows to a social worker's caseload.
func (s *Service) CaseloadIDs(db bun.IDB, workerID int64) *bun.SelectQuery {
	return db.NewSelect().Table("clients").Column("id").Where("caseworker_id = ? AND anonymised_at IS NULL", workerID)
}

// visibility is which case of the rule of who sees which client applies
// to an actor.
type visibility int

const (
	seesNone     visibility = iota
	seesAll                 // admins
	seesCaseload            // social workers: their own caseload
	seesReferred            // coordinators: the clients referred to the program
)

func visibilityOf(actor *accounts.Actor) visibility {
	switch {
	case actor.Can(accounts.ManageUsers):
		return seesAll
	case actor.Can(accounts.WriteClients):
		return seesCaseload
	case actor.Can(accounts.ReadClients):
		return seesReferred
	}
	return seesNone
}

// visible restricts q (over clients aliased c, within db) to what actor
// may see. The actor's id is read only for a caseload: the system (a nil
// actor) sees no one, as it did before the rule took the id as an argument.
func (s *Service) visible(db bun.IDB, q *bun.SelectQuery, actor *accounts.Actor) *bun.SelectQuery {
	v := visibilityOf(actor)
	var worker any
	if v == seesCaseload {
		worker = actor.ID
	}
	return s.visibleAs(db, q, v, worker)
}

// visibleAs restricts q to the clients visible in case v, to a social
// worker whose id is worker. This is the one place the rule is written.
// A client erased is visible to no one.
// Each referral is looked up for the client at hand (EXISTS), where a list
// of every referred client would be read whole for each client checked.
func (s *Service) visibleAs(db bun.IDB, q *bun.SelectQuery, v visibility, worker any) *bun.SelectQuery {
	q.Where("c.anonymised_at IS NULL") // erased: seen by no one
	switch v {
	case seesAll:
		return q
	case seesCaseload:
		return q.Where("c.caseworker_id = ?", worker)
	case seesReferred:
		return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, r := range s.Referrals {
				q.WhereOr("EXISTS (?)", r.Referrals(db, "c.id"))
			}
			return q.WhereOr("1 = 0")
		})
	}
	return q.Where("1 = 0")
}

// VisibleIDs selects the ids of the clients actor may see. Other packages
// use it to scope rows, or a filter by client, to them.
func (s *Service) VisibleIDs(db bun.IDB, actor *accounts.Actor) *bun.SelectQuery {
	return s.visible(db, db.NewSelect().Model((*Client)(nil)).Column("c.id"), actor)
}

// Visible reports whether actor may see client id; false too when there is
// no such client. It reads nothing of the record and records nothing.
func (s *Service) Visible(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (bool, error) {
	v := visibilityOf(actor)
	args := []any{id}
	if v == seesCaseload {
		args = append(args, actor.ID)
	}
	var ok bool
	err := visibleChecks[v].ScanOne(ctx, db, func(p storage.Param) storage.Query {
		var worker any
		if v == seesCaseload {
			worker = p(1)
		}
		q := s.visibleAs(db, db.NewSelect().Model((*Client)(nil)).ColumnExpr("1").Where("c.id = ?", p(0)), v, worker)
		return db.NewSelect().ColumnExpr("EXISTS (?)", q)
	}, args, &ok)
	return ok, storage.Err(err, "client")
}

// visibleChecks are Visible's queries, one for each case of the rule: every
// request naming a client asks it, kept prepared.
var visibleChecks [seesReferred + 1]storage.HotQuery

// CheckVisible reports NotFound unless the actor may see the client (named
// in a path). It reads nothing of the record and records nothing.
func (s *Service) CheckVisible(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) error {
	ok, err := s.Visible(ctx, db, actor, id)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.NotFound, "client not found")
	}
	return nil
}

// NoClient is what a field naming a client is told when the caller may not
// see that client, and when there is none: the same words for both.
const NoClient = "no client you can see has this id"

// CheckReference reports an invalid field unless the actor may see the
// client it names (in a request body), in the same words whether the
// client exists or not, holding the client as VisibleHeld does. It reads
// nothing of the record and records nothing.
func (s *Service) CheckReference(ctx context.Context, db bun.IDB, actor *accounts.Actor, field string, id int64) error {
	if id <= 0 {
		return (apperr.Fields{field: "is required"}).Err()
	}
	ok, err := s.VisibleHeld(ctx, db, actor, id)
	if err != nil {
		return err
	}
	if !ok {
		return (apperr.Fields{field: NoClient}).Err()
	}
	return nil
}

// VisibleHeld is Visible for a writer that attaches a record to the
// client (a loan, a device request, a training place), within its
// transaction db: on PostgreSQL it also takes a share lock on the client's
// row, so an erasure under way (which holds the row for update) is waited
// for, and a client it erased is then not found. (On SQLite a writer holds
// the database's write lock already.)
func (s *Service) VisibleHeld(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (bool, error) {
	ok, err := s.Visible(ctx, db, actor, id)
	if err != nil || !ok || db.Dialect().Name() != dialect.PG {
		return ok, err
	}
	held, err := db.NewSelect().Table("clients").Where("id = ? AND anonymised_at IS NULL", id).For("SHARE").Exists(ctx)
	return held, storage.Err(err, "client")
}

// Input is a client as entered; for an update, nil fields stay as they are.
type Input struct {
	CaseNumber        *string  `json:"case_number"`
	FirstName         *string  `json:"first_name"`
	LastName          *string  `json:"last_name"`
	Phone             *string  `json:"phone"`
	Email             *string  `json:"email"`
	PreferredLanguage *string  `json:"preferred_language"`
	PreferredChannel  *Channel `json:"preferred_channel"`
	HouseholdSize     *int     `json:"household_size"`
	PostalCode        *string  `json:"postal_code"`
	CaseworkerID      *int64   `json:"caseworker_id"`
	SMSOptedOut       *bool    `json:"sms_opted_out"`
	EmailOptedOut     *bool    `json:"email_opted_out"`

	// HouseholdID joins another client's household; left out (or null)
	// when creating, the client gets a household of their own.
	HouseholdID       optional.Field[int64]         `json:"household_id"`
	AnnualIncomeCents optional.Field[int64]         `json:"annual_income_cents"` // null: not disclosed
	Programs          optional.Field[Codes]         `json:"programs"`            // null: none
	ProofVerifiedOn   optional.Field[calendar.Date] `json:"proof_verified_on"`
	DateOfBirth       optional.Field[calendar.Date] `json:"date_of_birth"`
	Needs             optional.Field[Codes]         `json:"needs"` // null: none
}

// MaxIncomeCents bounds a declared income ($1,000,000,000).
const MaxIncomeCents = 100_000_000_000

// apply copies the given fields of in onto c, trimmed, and checks the
// result as a whole, reporting every bad field. today bounds the dates; a
// phone number given is stored in E.164, read in region when it has no
// country code. (A number stored before numbers were kept in E.164, that
// could not be converted, is left alone until the phone is edited.)
func (in Input) apply(c *Client, today calendar.Date, region string) error {
	for dst, src := range map[*string]*string{&c.CaseNumber: in.CaseNumber, &c.FirstName: in.FirstName,
		&c.LastName: in.LastName, &c.Phone: in.Phone, &c.Email: in.Email, &c.PreferredLanguage: in.PreferredLanguage,
		&c.PostalCode: in.PostalCode} {
		optional.AssignTrimmed(dst, src)
	}
	optional.Assign(&c.PreferredChannel, in.PreferredChannel)
	optional.Assign(&c.HouseholdSize, in.HouseholdSize)
	optional.Assign(&c.SMSOptedOut, in.SMSOptedOut)
	optional.Assign(&c.EmailOptedOut, in.EmailOptedOut)
	if in.AnnualIncomeCents.Set {
		c.AnnualIncomeCents = nil
		if !in.AnnualIncomeCents.Null {
			v := in.AnnualIncomeCents.Value
			c.AnnualIncomeCents = &v
		}
	}
	var tooMany apperr.Fields
	if in.Programs.Set {
		tooMany.Check(len(in.Programs.Value) > 30, "programs", "at most 30 codes")
		c.Programs = in.Programs.Value.Normalize()
	}
	if in.Needs.Set {
		tooMany.Check(len(in.Needs.Value) > 30, "needs", "at most 30 codes")
		c.Needs = in.Needs.Value.Normalize()
	}
	if in.ProofVerifiedOn.Set {
		c.ProofVerifiedOn = in.ProofVerifiedOn.Value
	}
	if in.DateOfBirth.Set {
		c.DateOfBirth = in.DateOfBirth.Value
	}
	if c.Programs == nil {
		c.Programs = Codes{}
	}
	if c.Needs == nil {
		c.Needs = Codes{}
	}
	c.Email = strings.ToLower(c.Email)

	bad := tooMany
	bad.Check(c.CaseNumber == "", "case_number", "is required")
	bad.MaxLength("case_number", c.CaseNumber, 50)
	bad.Check(c.FirstName == "", "first_name", "is required")
	bad.MaxLength("first_name", c.FirstName, 100)
	bad.Check(c.LastName == "", "last_name", "is required")
	bad.MaxLength("last_name", c.LastName, 100)
	if in.Phone != nil && c.Phone != "" {
		if len(c.Phone) > 30 {
			bad.MaxLength("phone", c.Phone, 30)
		} else if e164, err := phone.Normalize(c.Phone, region); err == nil {
			c.Phone = e164
		} else {
			bad.Add("phone", "must be a phone number in use, with its country code (such as +44 20 7946 0958) or as a national number of "+
				phone.RegionOrDefault(region)+" (such as "+phone.Example(region)+")")
		}
	}
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		bad.Check(err != nil || a.Address != c.Email, "email", "must be an email address")
		bad.MaxLength("email", c.Email, 254)
	}
	if c.PreferredLanguage == "" {
		c.PreferredLanguage = "en"
	}
	if tag, err := language.Parse(c.PreferredLanguage); err != nil || len(c.PreferredLanguage) > 35 {
		bad.Add("preferred_language", "must be a language code such as en, es or fr-CA")
	} else {
		c.PreferredLanguage = tag.String()
	}
	switch c.PreferredChannel {
	case SMS:
		bad.Check(c.Phone == "", "phone", "is required when the preferred channel is sms")
	case Email:
		bad.Check(c.Email == "", "email", "is required when the preferred channel is email")
	case None:
	default:
		bad.Add("preferred_channel", "must be one of sms, email, none")
	}
	bad.Check(c.HouseholdSize < 1 || c.HouseholdSize > 50, "household_size", "must be a whole number from 1 to 50")
	bad.MaxLength("postal_code", c.PostalCode, 20)
	bad.Check(c.AnnualIncomeCents != nil && (*c.AnnualIncomeCents < 0 || *c.AnnualIncomeCents > MaxIncomeCents),
		"annual_income_cents", "must be 0 or more (in cents), or null when not disclosed")
	checkCodes(&bad, "programs", c.Programs)
	checkCodes(&bad, "needs", c.Needs)
	bad.Check(c.ProofVerifiedOn.Check(&bad, "proof_verified_on") && !c.ProofVerifiedOn.IsZero() && c.ProofVerifiedOn.After(today),
		"proof_verified_on", "must not be in the future")
	bad.Check(c.DateOfBirth.Check(&bad, "date_of_birth") && !c.DateOfBirth.IsZero() && c.DateOfBirth.After(today),
		"date_of_birth", "must not be in the future")
	return bad.Err()
}

func checkCodes(bad *apperr.Fields, field string, codes Codes) {
	bad.Check(len(codes) > 30, field, "at most 30 codes")
	for _, code := range codes {
		if !eligibility.ValidCode(code) {
			bad.Add(field, "each must be a code of lowercase letters, digits and underscores, such as snap")
			return
		}
	}
}

// fields is the client's editable fields, by API name: their names, never
// their values, go into the audit trail.
func (c *Client) fields() map[string]any {
	return map[string]any{
		"case_number": c.CaseNumber, "first_name": c.FirstName, "last_name": c.LastName,
		"phone": c.Phone, "email": c.Email, "preferred_language": c.PreferredLanguage,
		"preferred_channel": c.PreferredChannel, "household_size": c.HouseholdSize,
		"postal_code": c.PostalCode, "caseworker_id": c.CaseworkerID,
		"sms_opted_out": c.SMSOptedOut, "email_opted_out": c.EmailOptedOut,
		"household_id": c.HouseholdID, "annual_income_cents": c.AnnualIncomeCents, "programs": c.Programs,
		"proof_verified_on": c.ProofVerifiedOn, "date_of_birth": c.DateOfBirth, "needs": c.Needs,
	}
}

// caseworker decides whose client a new or reassigned record is: a social
// worker records clients for themselves; an admin names the caseworker.
func (s *Service) caseworker(ctx context.Context, db bun.IDB, actor *accounts.Actor, requested *int64, current int64) (int64, error) {
	if !actor.Can(accounts.ManageUsers) {
		if requested != nil && *requested != actor.ID {
			return 0, (apperr.Fields{"caseworker_id": "only an admin can assign a client to another worker"}).Err()
		}
		if current != 0 {
			return current, nil
		}
		return actor.ID, nil
	}
	if requested == nil {
		if current != 0 {
			return current, nil
		}
		return 0, (apperr.Fields{"caseworker_id": "is required: name the social worker whose client this is"}).Err()
	}
	var role accounts.Role
	err := db.NewSelect().Table("users").Column("role").Where("id = ? AND active", *requested).Scan(ctx, &role)
	if err != nil || !role.Can(accounts.WriteClients) {
		return 0, (apperr.Fields{"caseworker_id": "must be an active staff member who can keep clients"}).Err()
	}
	return *requested, nil
}

func caseNumberTaken(err error) error {
	if storage.UniqueOn(err, "case_number") {
		return &apperr.Error{Code: apperr.Conflict, Message: "a client with this case number already exists",
			Fields: map[string]string{"case_number": "is already in use"}}
	}
	return storage.Err(err, "client")
}

func event(actor *accounts.Actor, at time.Time, action string, c *Client) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action,
		SubjectType: "client", SubjectID: c.ID, ClientID: &c.ID}
}

// Create records a new client.
func (s *Service) Create(ctx context.Context, actor *accounts.Actor, in Input) (*Client, error) {
	c := &Client{}
	fieldErr := in.apply(c, s.today(), s.Region)
	var out *Client
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		worker, err := s.caseworker(ctx, tx, actor, in.CaseworkerID, 0)
		household, herr := s.household(ctx, tx, actor, in.HouseholdID, nil)
		if err := apperr.Join(fieldErr, err, herr); err != nil {
			return err
		}
		c.CaseworkerID, c.HouseholdID = worker, household
		c.CreatedAt = s.now()
		c.UpdatedAt = c.CreatedAt
		if err := s.insert(ctx, tx, c); err != nil {
			return err
		}
		out = c
		return audit.Record(ctx, tx, event(actor, c.CreatedAt, "client.created", c), map[string]any{"fields": audit.FieldsGiven(c.fields())})
	})
	return out, err
}

// insert writes the new client c within tx: its id first, which the seal
// binds, then the row (the plain columns that once held the personal
// fields left blank) and the search digests.
func (s *Service) insert(ctx context.Context, tx bun.Tx, c *Client) error {
	id, err := s.nextID(ctx, tx)
	if err != nil {
		return err
	}
	c.ID = id
	s.index(c)
	if err := s.seal(c); err != nil {
		return err
	}
	_, err = clientInsert.Exec(ctx, tx, func(p storage.Param) storage.Query {
		return tx.NewRaw("INSERT INTO clients (id, preferred_language, preferred_channel, household_size, caseworker_id, sms_opted_out, "+
			"email_opted_out, household_id, needs, created_at, updated_at, personal, personal_key, case_number_index, phone_index, "+
			"email_index, birth_year, postal_prefix, search_case, search_first, search_last, case_number, first_name, last_name) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '')",
			p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12), p(13), p(14), p(15), p(16), p(17),
			p(18), p(19), p(20))
	}, c.ID, c.PreferredLanguage, string(c.PreferredChannel), c.HouseholdSize, c.CaseworkerID, c.SMSOptedOut, c.EmailOptedOut,
		c.HouseholdID, c.Needs, c.CreatedAt, c.UpdatedAt, c.Personal, c.PersonalKey, c.CaseNumberIndex, c.PhoneIndex, c.EmailIndex,
		c.BirthYear, c.PostalPrefix, c.SearchCase, c.SearchFirst, c.SearchLast)
	if err != nil {
		return caseNumberTaken(err)
	}
	return nil
}

// clientInsert is insert's statement, kept prepared: a sealed client's
// insert is long, and preparing it was a quarter of a create's time on
// SQLite.
var clientInsert storage.HotQuery

// nextID takes the id of a new client, within tx, before the row is
// written: the seal binds it. SQLite, whose write transactions run one at
// a time (BEGIN IMMEDIATE), takes the next after the largest, as its
// rowids do; PostgreSQL draws from the column's sequence, through s.ids.
func (s *Service) nextID(ctx context.Context, tx bun.Tx) (int64, error) {
	if tx.Dialect().Name() == dialect.PG {
		return s.ids.next(ctx, tx)
	}
	var id int64
	if err := tx.NewRaw("SELECT COALESCE(MAX(id), 0) + 1 FROM clients").Scan(ctx, &id); err != nil {
		return 0, storage.Err(err, "client")
	}
	return id, nil
}

// idBatch is how many ids an instance draws from PostgreSQL's sequence at
// once.
const idBatch = 32

// idPool hands out the ids of new clients on PostgreSQL, drawn from the
// sequence idBatch at a time and kept in memory: most creates then make no
// round trip for their id. The sequence never gives an id twice, so
// instances drawing at once each get their own; an id drawn and never
// used (the instance stopped, the insert failed) is a gap, as a
// rolled-back insert leaves one. Ids therefore follow creation order
// within an instance only, which nothing relies on.
type idPool struct {
	mu   sync.Mutex
	free []int64
}

func (p *idPool) next(ctx context.Context, db bun.IDB) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		if err := db.NewRaw("SELECT nextval(pg_get_serial_sequence('clients', 'id')) FROM generate_series(1, ?) ORDER BY 1",
			idBatch).Scan(ctx, &p.free); err != nil {
			return 0, storage.Err(err, "client")
		}
	}
	id := p.free[0]
	p.free = p.free[1:]
	return id, nil
}

// Validate checks an input as Create checks it, reporting every bad field,
// and saves nothing: a form that found problems of its own (a number it
// could not read) reports them with these. The caseworker and the
// household, which need the database, are checked by Create and Update.
func (s *Service) Validate(in Input) error {
	return in.apply(&Client{}, s.today(), s.Region)
}

// load finds a client the actor may see, within db; with lock, the row
// stays locked for the caller's transaction.
func (s *Service) load(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64, lock bool) (*Client, error) {
	c := new(Client)
	q := s.visible(db, db.NewSelect().Model(c).Where("c.id = ?", id), actor)
	q = storage.LockedIf(q, lock)
	if err := q.Scan(ctx); err != nil {
		return nil, storage.Err(err, "client")
	}
	if err := s.open(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns one client the actor may see, and records the read.
func (s *Service) Get(ctx context.Context, actor *accounts.Actor, id int64) (*Client, error) {
	var c *Client
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if c, err = s.load(ctx, tx, actor, id, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx, event(actor, s.now(), "client.viewed", c), nil)
	})
	return c, err
}

// Filter narrows a list of clients.
type Filter struct {
	// Q matches the start of the case number, first or last name, ignoring case.
	Q            string
	CaseworkerID int64
}

// Summary is a client as a list shows them: enough to find and tell people
// apart, none of their contact details or situation (income, date of
// birth, programs, needs, proof, postal code), which only a read of the
// one record gives.
type Summary struct {
	bun.BaseModel `bun:"table:clients,alias:c"`

	ID                int64     `bun:"id,pk" json:"id"`
	CaseNumber        string    `bun:"-" json:"case_number"`
	FirstName         string    `bun:"-" json:"first_name"`
	LastName          string    `bun:"-" json:"last_name"`
	PreferredLanguage string    `bun:"preferred_language" json:"preferred_language"`
	PreferredChannel  Channel   `bun:"preferred_channel" json:"preferred_channel"`
	CaseworkerID      int64     `bun:"caseworker_id" json:"caseworker_id"`
	HouseholdID       *int64    `bun:"household_id" json:"household_id"`
	CreatedAt         time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at" json:"updated_at"`
}

// List returns summaries of the clients the actor may see, by name. The
// read is recorded before the answer is given: one client.listed event
// naming the clients returned and the filter that found them.
//
// Names are sealed, so the database can neither search nor order by them:
// it gives the visible clients (with a search of SearchMinLength
// characters or more, only those holding its keyed prefix digest), whose
// records are opened, matched and ordered here.
func (s *Service) List(ctx context.Context, actor *accounts.Actor, f Filter, page storage.Page) ([]Summary, int, error) {
	// First the sealed records of every client that may match, to match
	// and order them; then the page's summaries.
	var sealed []struct {
		ID       int64  `bun:"id"`
		Personal string `bun:"personal"`
	}
	q := s.visible(s.DB, s.DB.NewSelect().Model((*Client)(nil)).Column("c.id", "c.personal"), actor)
	search := searchText(f.Q)
	if utf8.RuneCountInString(search) >= SearchMinLength {
		d := s.searchDigest(search)
		q.Where("(c.search_case = ? OR c.search_first = ? OR c.search_last = ?)", d, d, d)
	}
	if f.CaseworkerID != 0 {
		q.Where("c.caseworker_id = ?", f.CaseworkerID)
	}
	if err := q.Scan(ctx, &sealed); err != nil {
		return nil, 0, storage.Err(err, "clients")
	}
	type found struct {
		byName
		l listing
	}
	matched := make([]found, 0, len(sealed))
	for _, c := range sealed {
		l := s.listed(c.ID, c.Personal)
		if search != "" && !strings.HasPrefix(searchText(l.caseNumber), search) &&
			!strings.HasPrefix(searchText(l.firstName), search) && !strings.HasPrefix(searchText(l.lastName), search) {
			continue
		}
		matched = append(matched, found{byName{l.sortKey, c.ID}, l})
	}
	slices.SortFunc(matched, func(a, b found) int { return a.compare(b.byName) })
	total := len(matched)
	from, to := page.Window(total)
	shown := matched[from:to]
	ids := make([]int64, len(shown))
	for i, m := range shown {
		ids[i] = m.id
	}
	out := []Summary{}
	if len(ids) > 0 {
		var rows []Summary
		q := s.visible(s.DB, s.DB.NewSelect().Model(&rows).Where("c.id IN (?)", bun.In(ids)), actor)
		if err := q.Scan(ctx); err != nil {
			return nil, 0, storage.Err(err, "clients")
		}
		byID := make(map[int64]Summary, len(rows))
		for _, r := range rows {
			byID[r.ID] = r
		}
		ids = ids[:0]
		for _, m := range shown {
			r, ok := byID[m.id]
			if !ok {
				continue // no longer visible since the first read
			}
			r.CaseNumber, r.FirstName, r.LastName = m.l.caseNumber, m.l.firstName, m.l.lastName
			out = append(out, r)
			ids = append(ids, r.ID)
		}
	}
	err := audit.Record(ctx, s.DB, audit.Event{OccurredAt: s.now(), ActorID: actor.IDPtr(), Action: "client.listed",
		SubjectType: "client_list"}, map[string]any{"client_ids": ids, "total": total,
		"searched": f.Q != "", "caseworker_id": f.CaseworkerID, "offset": page.Offset, "limit": page.Limit})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// Update changes the given fields of a client the actor may edit.
func (s *Service) Update(ctx context.Context, actor *accounts.Actor, id int64, in Input) (*Client, error) {
	if !actor.Can(accounts.WriteClients) {
		return nil, apperr.New(apperr.Forbidden, "your role cannot edit client records")
	}
	var c *Client
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if c, err = s.load(ctx, tx, actor, id, true); err != nil {
			return err
		}
		before := c.fields()
		fieldErr := in.apply(c, s.today(), s.Region)
		worker, err := s.caseworker(ctx, tx, actor, in.CaseworkerID, c.CaseworkerID)
		household, herr := s.household(ctx, tx, actor, in.HouseholdID, c.HouseholdID)
		if err := apperr.Join(fieldErr, err, herr); err != nil {
			return err
		}
		c.CaseworkerID, c.HouseholdID = worker, household
		changed := audit.FieldsChanged(before, c.fields())
		if len(changed) == 0 {
			return nil
		}
		c.UpdatedAt = s.now()
		s.index(c)
		if err := s.seal(c); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(c).ExcludeColumn("id", "created_at").WherePK().Exec(ctx); err != nil {
			return caseNumberTaken(err)
		}
		return audit.Record(ctx, tx, event(actor, c.UpdatedAt, "client.updated", c), map[string]any{"fields": changed})
	})
	return c, err
}

// History returns every recorded event about a client the actor may see,
// including the loans made to them. Since the events carry the record's
// details, reading them is recorded like reading the record.
func (s *Service) History(ctx context.Context, actor *accounts.Actor, id int64, page storage.Page) ([]audit.Event, int, error) {
	var (
		events []audit.Event
		total  int
	)
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		c, err := s.load(ctx, tx, actor, id, false)
		if err != nil {
			return err
		}
		if events, total, err = audit.List(ctx, tx, audit.Filter{ClientID: id}, page); err != nil {
			return err
		}
		return audit.Record(ctx, tx, event(actor, s.now(), "client.history_viewed", c), nil)
	})
	return events, total, err
}

// EligibilityFacts returns the situation of a client the actor may see,
// and the ids of the clients in their household (them included). Reading
// it is recorded, since decisions quote income and programs.
func (s *Service) EligibilityFacts(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (eligibility.Situation, []int64, error) {
	var (
		c         *Client
		household []int64
	)
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		var err error
		if c, err = s.load(ctx, tx, actor, id, false); err != nil {
			return err
		}
		household = []int64{c.ID}
		if c.HouseholdID != nil {
			household = nil
			if err := tx.NewSelect().Model((*Client)(nil)).Column("id").Where("household_id = ?", *c.HouseholdID).
				OrderExpr("id").Scan(ctx, &household); err != nil {
				return storage.Err(err, "household")
			}
		}
		return audit.Record(ctx, tx, event(actor, s.now(), "client.eligibility_checked", c), nil)
	})
	if err != nil {
		return eligibility.Situation{}, nil, err
	}
	return eligibility.Situation{HouseholdSize: c.HouseholdSize, AnnualIncomeCents: c.AnnualIncomeCents,
		Programs: c.Programs, ProofVerifiedOn: c.ProofVerifiedOn, DateOfBirth: c.DateOfBirth,
		PostalCode: c.PostalCode, Needs: c.Needs}, household, nil
}

// VisibleAmong returns which of ids the actor may see. It reads nothing of
// the records and records nothing.
func (s *Service) VisibleAmong(ctx context.Context, actor *accounts.Actor, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var visible []int64
	q := s.visible(s.DB, s.DB.NewSelect().Model((*Client)(nil)).Column("c.id").Where("c.id IN (?)", bun.In(ids)), actor)
	if err := q.Scan(ctx, &visible); err != nil {
		return nil, storage.Err(err, "clients")
	}
	for _, id := range visible {
		out[id] = true
	}
	return out, nil
}

// Name returns the full name of a client the actor may see (for a
// certificate, say), and records the read.
func (s *Service) Name(ctx context.Context, actor *accounts.Actor, id int64) (string, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return "", err
	}
	return c.FirstName + " " + c.LastName, nil
}

// ForExport returns a client whose whole record the actor may have (an
// access request: app.ExportClient): their caseworker's, or an admin's. A
// client the actor may not see is not found; one they see without being
// their caseworker (a coordinator, another worker's referral) is forbidden.
func (s *Service) ForExport(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (*Client, error) {
	c, err := s.load(ctx, db, actor, id, false)
	if err != nil {
		return nil, err
	}
	if actor.Role != accounts.Admin && c.CaseworkerID != actor.ID {
		return nil, apperr.New(apperr.Forbidden, "only the client's caseworker or an admin may export everything held about a client")
	}
	return c, nil
}

// Exported records that everything held about c was given to the actor.
func (s *Service) Exported(ctx context.Context, db bun.IDB, actor *accounts.Actor, c *Client, counts map[string]any) error {
	return audit.Record(ctx, db, event(actor, s.now(), "client.exported", c), counts)
}
