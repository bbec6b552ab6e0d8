// Package clients owns the people the agency serves: their record, who their
// caseworker is, and who may see them.
//
// Visibility: a social worker sees their own clients (caseload); a
// coordinator sees the clients the lending program has lent to; an admin sees
// everyone; a funder sees no one. A record the caller may not see is reported
// as not found, so its existence does not leak. Every read of a single record
// and every change is written to the audit trail.
package clients

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"
	"golang.org/x/text/language"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
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

	ID                int64     `bun:"id,pk,autoincrement" json:"id"`
	CaseNumber        string    `bun:"case_number" json:"case_number"`
	FirstName         string    `bun:"first_name" json:"first_name"`
	LastName          string    `bun:"last_name" json:"last_name"`
	Phone             string    `bun:"phone" json:"phone"`
	Email             string    `bun:"email" json:"email"`
	PreferredLanguage string    `bun:"preferred_language" json:"preferred_language"`
	PreferredChannel  Channel   `bun:"preferred_channel" json:"preferred_channel"`
	HouseholdSize     int       `bun:"household_size" json:"household_size"`
	PostalCode        string    `bun:"postal_code" json:"postal_code"`
	CaseworkerID      int64     `bun:"caseworker_id" json:"caseworker_id"`
	CreatedAt         time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt         time.Time `bun:"updated_at" json:"updated_at"`
}

// Borrowers is what this package needs to know about lending: the ids of
// clients who have had a loan. The inventory package provides it.
type Borrowers interface {
	BorrowerIDs(db bun.IDB) *bun.SelectQuery
}

// Service manages client records.
type Service struct {
	DB        bun.IDB
	Now       func() time.Time
	Borrowers Borrowers
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// CaseloadIDs selects the ids of the clients whose caseworker is workerID.
// Other packages use it to scope rows to a social worker's caseload.
func (s *Service) CaseloadIDs(db bun.IDB, workerID int64) *bun.SelectQuery {
	return db.NewSelect().Table("clients").Column("id").Where("caseworker_id = ?", workerID)
}

// visible restricts q (over clients aliased c) to what actor may see.
func (s *Service) visible(q *bun.SelectQuery, actor *accounts.Actor) *bun.SelectQuery {
	switch {
	case actor.Can(accounts.ManageUsers):
		return q
	case actor.Can(accounts.WriteClients):
		return q.Where("c.caseworker_id = ?", actor.ID)
	case actor.Can(accounts.ReadClients):
		return q.Where("c.id IN (?)", s.Borrowers.BorrowerIDs(s.DB))
	}
	return q.Where("1 = 0")
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
}

// apply copies the given fields of in onto c, trimmed, and checks the
// result as a whole, reporting every bad field.
func (in Input) apply(c *Client) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&c.CaseNumber, in.CaseNumber)
	set(&c.FirstName, in.FirstName)
	set(&c.LastName, in.LastName)
	set(&c.Phone, in.Phone)
	set(&c.Email, in.Email)
	set(&c.PreferredLanguage, in.PreferredLanguage)
	set(&c.PostalCode, in.PostalCode)
	if in.PreferredChannel != nil {
		c.PreferredChannel = *in.PreferredChannel
	}
	if in.HouseholdSize != nil {
		c.HouseholdSize = *in.HouseholdSize
	}
	c.Email = strings.ToLower(c.Email)

	var bad apperr.Fields
	bad.Check(c.CaseNumber == "", "case_number", "is required")
	bad.MaxLength("case_number", c.CaseNumber, 50)
	bad.Check(c.FirstName == "", "first_name", "is required")
	bad.MaxLength("first_name", c.FirstName, 100)
	bad.Check(c.LastName == "", "last_name", "is required")
	bad.MaxLength("last_name", c.LastName, 100)
	bad.Check(c.Phone != "" && !validPhone(c.Phone), "phone", "must be a phone number of 7 to 15 digits (+, spaces, dashes and brackets allowed)")
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		bad.Check(err != nil || a.Address != c.Email, "email", "must be an email address")
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
	return bad.Err()
}

func validPhone(p string) bool {
	digits := 0
	for _, r := range p {
		switch {
		case unicode.IsDigit(r):
			digits++
		case strings.ContainsRune("+-() .", r):
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// fields is the client's editable fields, by API name, for audit diffs.
func (c *Client) fields() map[string]any {
	return map[string]any{
		"case_number": c.CaseNumber, "first_name": c.FirstName, "last_name": c.LastName,
		"phone": c.Phone, "email": c.Email, "preferred_language": c.PreferredLanguage,
		"preferred_channel": c.PreferredChannel, "household_size": c.HouseholdSize,
		"postal_code": c.PostalCode, "caseworker_id": c.CaseworkerID,
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
	fieldErr := in.apply(c)
	var out *Client
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		worker, err := s.caseworker(ctx, tx, actor, in.CaseworkerID, 0)
		if err := apperr.Join(fieldErr, err); err != nil {
			return err
		}
		c.CaseworkerID = worker
		c.CreatedAt = s.now()
		c.UpdatedAt = c.CreatedAt
		if _, err := tx.NewInsert().Model(c).Exec(ctx); err != nil {
			return caseNumberTaken(err)
		}
		out = c
		return audit.Record(ctx, tx, event(actor, c.CreatedAt, "client.created", c), c.fields())
	})
	return out, err
}

// load finds a client the actor may see, within db; with lock, the row
// stays locked for the caller's transaction.
func (s *Service) load(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64, lock bool) (*Client, error) {
	c := new(Client)
	q := s.visible(db.NewSelect().Model(c).Where("c.id = ?", id), actor)
	if lock {
		q = storage.Locked(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, storage.Err(err, "client")
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

// Exists checks that a client exists (for linking a loan), whoever may see it.
func (s *Service) Exists(ctx context.Context, db bun.IDB, id int64) (bool, error) {
	ok, err := db.NewSelect().Table("clients").Where("id = ?", id).Exists(ctx)
	return ok, storage.Err(err, "client")
}

// Filter narrows a list of clients.
type Filter struct {
	// Q matches the start of the case number, first or last name, ignoring case.
	Q            string
	CaseworkerID int64
}

// List returns the clients the actor may see, by name.
func (s *Service) List(ctx context.Context, actor *accounts.Actor, f Filter, page storage.Page) ([]Client, int, error) {
	out := []Client{}
	q := s.visible(s.DB.NewSelect().Model(&out), actor)
	if f.Q != "" {
		like := strings.ToLower(storage.EscapeLike(strings.TrimSpace(f.Q))) + "%"
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("LOWER(c.case_number) LIKE ? ESCAPE '\\'", like).
				WhereOr("LOWER(c.first_name) LIKE ? ESCAPE '\\'", like).
				WhereOr("LOWER(c.last_name) LIKE ? ESCAPE '\\'", like)
		})
	}
	if f.CaseworkerID != 0 {
		q.Where("c.caseworker_id = ?", f.CaseworkerID)
	}
	total, err := page.Apply(q.OrderExpr("c.last_name, c.first_name, c.id")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "clients")
	}
	return out, int(total), nil
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
		fieldErr := in.apply(c)
		worker, err := s.caseworker(ctx, tx, actor, in.CaseworkerID, c.CaseworkerID)
		if err := apperr.Join(fieldErr, err); err != nil {
			return err
		}
		c.CaseworkerID = worker
		changes := audit.Diff(before, c.fields())
		if len(changes) == 0 {
			return nil
		}
		c.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(c).ExcludeColumn("id", "created_at").WherePK().Exec(ctx); err != nil {
			return caseNumberTaken(err)
		}
		return audit.Record(ctx, tx, event(actor, c.UpdatedAt, "client.updated", c), changes)
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
