// Package agency keeps the agency's details (name, address, phone, email,
// currency of replacement costs, logo) that agreements, labels,
// certificates, reminders and reports print. The server's settings
// (--agency-* and --currency) are the defaults; an admin may override them
// on /agreement/terms, which saves them in the one row of agency_details.
package agency

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/storage"
)

// Lengths the details may have, in characters.
const (
	MaxNameLength    = 200
	MaxAddressLength = 300
	MaxPhoneLength   = 50
	MaxEmailLength   = 254
	// MaxLogoBytes bounds an uploaded logo, as --agency-logo's file.
	MaxLogoBytes = 2 << 20
)

// DefaultMaxAge is how long Current trusts what it read: another instance's
// save shows here within this time.
const DefaultMaxAge = 5 * time.Second

// Details are the agency's details as printed.
type Details struct {
	Name, Address, Phone, Email string
	// Currency is what replacement costs are in; the zero value is USD.
	Currency currency.Unit
	// Logo is a PNG documents.CleanImage returned; nil: none.
	Logo []byte
}

// CurrencyCode is the currency's ISO 4217 code, USD for the zero value
// (as agreements and reports print it).
func (d Details) CurrencyCode() string {
	if d.Currency == (currency.Unit{}) || d.Currency.String() == "XXX" {
		return "USD"
	}
	return d.Currency.String()
}

// Input is what an admin saves. An empty text field means the setting.
type Input struct {
	Name, Address, Phone, Email, Currency string
	// Logo is a newly uploaded PNG or JPEG; nil keeps the logo as it is.
	Logo []byte
	// RemoveLogo prints no logo, not even the setting's.
	RemoveLogo bool
}

type row struct {
	bun.BaseModel `bun:"table:agency_details"`

	ID        int64     `bun:"id,pk"`
	Name      *string   `bun:"name"`
	Address   *string   `bun:"address"`
	Phone     *string   `bun:"phone"`
	Email     *string   `bun:"email"`
	Currency  *string   `bun:"currency"`
	Logo      []byte    `bun:"logo"`
	NoLogo    bool      `bun:"no_logo,notnull"`
	UpdatedAt time.Time `bun:"updated_at"`
	UpdatedBy *int64    `bun:"updated_by"`
}

// Service reads and saves the agency's details.
//
// Current caches what it read for MaxAge (DefaultMaxAge when zero): the
// details are read for every reminder a sweep composes and every label
// sheet, so one read per few seconds rather than per use; Save empties the
// cache, so this instance shows a change at once, and another instance
// within MaxAge, without a restart.
type Service struct {
	DB  *storage.DB
	Now func() time.Time
	// Defaults are the server's settings.
	Defaults Details
	MaxAge   time.Duration

	mu     sync.Mutex
	cached *Details
	readAt time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) maxAge() time.Duration {
	if s.MaxAge > 0 {
		return s.MaxAge
	}
	return DefaultMaxAge
}

// Current returns the saved details over the settings.
func (s *Service) Current(ctx context.Context) (Details, error) {
	s.mu.Lock()
	if s.cached != nil && time.Since(s.readAt) < s.maxAge() {
		d := *s.cached
		s.mu.Unlock()
		return d, nil
	}
	s.mu.Unlock()
	r, err := s.read(ctx, s.DB)
	if err != nil {
		return s.Defaults, err
	}
	d := s.merge(r)
	s.mu.Lock()
	s.cached, s.readAt = &d, time.Now()
	s.mu.Unlock()
	return d, nil
}

// Get is Current for the documents and messages that print the details:
// should the database fail, the last details read (or the settings).
func (s *Service) Get(ctx context.Context) Details {
	d, err := s.Current(ctx)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cached != nil {
			return *s.cached
		}
	}
	return d
}

func (s *Service) read(ctx context.Context, db bun.IDB) (*row, error) {
	r := new(row)
	err := db.NewSelect().Model(r).Where("id = 1").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, storage.Err(err, "agency details")
	}
	return r, nil
}

func (s *Service) merge(r *row) Details {
	d := s.Defaults
	if r == nil {
		return d
	}
	for _, f := range []struct {
		to   *string
		from *string
	}{{&d.Name, r.Name}, {&d.Address, r.Address}, {&d.Phone, r.Phone}, {&d.Email, r.Email}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if r.Currency != nil {
		if u, err := currency.ParseISO(*r.Currency); err == nil {
			d.Currency = u
		}
	}
	switch {
	case r.NoLogo:
		d.Logo = nil
	case r.Logo != nil:
		d.Logo = r.Logo
	}
	return d
}

// Save stores the details an admin typed (ManageAgreements), checked as
// the settings are: the currency an ISO 4217 code, the logo a PNG or JPEG
// of at most 2 MB and documents.MaxImagePixels (kept re-encoded as
// documents.CleanImage returns it), the email an address. It records in
// the audit log which fields changed (never the logo's bytes). Nothing is
// saved when any field is refused.
func (s *Service) Save(ctx context.Context, actor *accounts.Actor, in Input) (Details, error) {
	if !actor.Can(accounts.ManageAgreements) {
		return Details{}, apperr.New(apperr.Forbidden, "only an admin may change the agency's details")
	}
	var bad apperr.Fields
	text := func(field, v string, n int) *string {
		if v == "" {
			return nil
		}
		bad.MaxLength(field, v, n)
		if !utf8.ValidString(v) {
			bad.Add(field, "is not text (UTF-8)")
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				bad.Add(field, "must be one line without control characters")
				break
			}
		}
		return &v
	}
	r := row{ID: 1, Name: text("name", in.Name, MaxNameLength), Address: text("address", in.Address, MaxAddressLength),
		Phone: text("phone", in.Phone, MaxPhoneLength), Email: text("email", in.Email, MaxEmailLength),
		UpdatedAt: s.now(), UpdatedBy: actor.IDPtr(), NoLogo: in.RemoveLogo}
	if in.Email != "" {
		if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
			bad.Add("email", "is not an email address such as office@agency.org")
		}
	}
	if in.Currency != "" {
		u, err := currency.ParseISO(in.Currency)
		if err != nil {
			bad.Add("currency", fmt.Sprintf("%q is not an ISO 4217 currency code (try USD, CAD or EUR)", in.Currency))
		} else {
			c := u.String()
			r.Currency = &c
		}
	}
	var logo []byte
	if in.Logo != nil && !in.RemoveLogo {
		if len(in.Logo) > MaxLogoBytes {
			bad.Add("logo", "is larger than 2 MB: use a smaller image")
		} else {
			var err error
			if logo, err = documents.CleanImage(in.Logo, documents.LogoRules); err != nil {
				bad.Add("logo", fmt.Sprintf("%v (a PNG or JPEG of at most %d pixels)", err, documents.MaxImagePixels))
			}
		}
	}
	if err := bad.Err(); err != nil {
		return Details{}, err
	}
	var saved Details
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		old, err := s.read(ctx, tx)
		if err != nil {
			return err
		}
		before := s.merge(old)
		switch {
		case in.RemoveLogo:
		case logo != nil:
			r.Logo = logo
		case old != nil && !old.NoLogo:
			r.Logo = old.Logo
		case old != nil && old.NoLogo:
			r.NoLogo = true // kept removed until a logo is uploaded
		}
		saved = s.merge(&r)
		changes := map[string]any{}
		for _, f := range []struct {
			name     string
			from, to string
		}{{"name", before.Name, saved.Name}, {"address", before.Address, saved.Address}, {"phone", before.Phone, saved.Phone},
			{"email", before.Email, saved.Email}, {"currency", before.CurrencyCode(), saved.CurrencyCode()}} {
			if f.from != f.to {
				changes[f.name] = map[string]string{"from": f.from, "to": f.to}
			}
		}
		switch {
		case logo != nil:
			changes["logo"] = "replaced"
		case saved.Logo == nil && before.Logo != nil:
			changes["logo"] = "removed"
		}
		if _, err := tx.NewInsert().Model(&r).On("CONFLICT (id) DO UPDATE").
			Set("name = EXCLUDED.name, address = EXCLUDED.address, phone = EXCLUDED.phone, email = EXCLUDED.email").
			Set("currency = EXCLUDED.currency, logo = EXCLUDED.logo, no_logo = EXCLUDED.no_logo").
			Set("updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by").Exec(ctx); err != nil {
			return storage.Err(err, "agency details")
		}
		if len(changes) == 0 { // the form sent again: nothing to record
			return nil
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: r.UpdatedAt, ActorID: actor.IDPtr(),
			Action: "agency_details.updated", SubjectType: "agency_details", SubjectID: 1}, changes)
	})
	if err != nil {
		return Details{}, err
	}
	s.mu.Lock()
	s.cached = nil
	s.mu.Unlock()
	return saved, nil
}
