// Package app wires the domain services to one database, so that the
// server, the CLI and the tests all build them the same way.
package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agency"
	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/reports"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/training"
)

// Services is every domain service, sharing one database and one clock.
type Services struct {
	DB          *storage.DB
	Accounts    *accounts.Service
	Clients     *clients.Service
	Inventory   *inventory.Service
	Eligibility *eligibility.Service
	Training    *training.Service
	Idempotency *idempotency.Store
	// Notifications creates and sends reminders.
	Notifications *notifications.Service
	// Agreements keeps the loan agreement's terms, draws agreements and
	// records their signing.
	Agreements *agreements.Service
	// Reports computes the funders' utilization report.
	Reports *reports.Service
	// Funding keeps the funding sources and which funders they are
	// linked to.
	Funding *funding.Service
	// Agency keeps the agency's details an admin saved over the settings;
	// every service that prints them reads them through it at use time.
	Agency *agency.Service
}

// Options adjust the services; the zero value is the production setup.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the agency's time zone; nil means UTC.
	Location *time.Location
	// AgencyName is printed on documents such as certificates and named in
	// reminders, with AgencyPhone.
	AgencyName  string
	AgencyPhone string
	// AgencyAddress and AgencyEmail are printed on loan agreements with the
	// name and phone, and AgencyLogo (a PNG documents.CleanImage returned)
	// at their head.
	AgencyAddress, AgencyEmail string
	AgencyLogo                 []byte
	// Currency is what replacement costs are printed in; the zero value is
	// USD.
	Currency currency.Unit
	// Channels deliver reminders by name ("sms", "email"). None at all
	// means both write to the log (the development setup).
	Channels map[string]notifications.Channel
	// ReminderPolicy is the policy until an admin sets one; nil means
	// notifications.DefaultPolicy().
	ReminderPolicy *notifications.Policy
	// Logger is where the log channel writes; nil means slog.Default().
	Logger *slog.Logger
	// DefaultCountry is where a client phone number written without its
	// country code is read (an ISO 3166 code); "" means the US.
	DefaultCountry string
	// RemindNowInterval is how long after a manual reminder about a loan
	// the next may be sent; 0 means notifications.DefaultRemindNowInterval,
	// a negative value no limit.
	RemindNowInterval time.Duration
	// DatabaseNow reads the database's clock, which times leases and the
	// remind-now window; nil means storage.DatabaseNow. Tests that move Now
	// pass storage.FollowClock(Now).
	DatabaseNow func(ctx context.Context, db bun.IDB) (time.Time, error)
	// TokenLifetime and TokenIdleTimeout end API tokens; zero means
	// accounts.DefaultTokenLifetime and accounts.DefaultTokenIdleTimeout.
	TokenLifetime, TokenIdleTimeout time.Duration
	// SessionIdleTimeout ends a browser session unused for this long; zero
	// means accounts.DefaultSessionIdleTimeout.
	SessionIdleTimeout time.Duration
	// TokenCacheTTL, on PostgreSQL, is how long token lookups are kept
	// (accounts.TokenCache, up to accounts.MaxTokenCacheTTL); zero, or
	// SQLite, keeps none. The cache is bypassed until its listener is
	// started: Accounts.Tokens.Start.
	TokenCacheTTL time.Duration
	// Keys seal client records and what device requests say of clients
	// (keyring.Open); required.
	Keys *keyring.Ring
}

// New builds the services on db.
func New(db *storage.DB, opts Options) *Services {
	if opts.Keys == nil {
		panic("app.New: Options.Keys is required: client records cannot be read or written without them")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	loc := calendar.Zone(opts.Location)
	acc := accounts.NewService(db)
	acc.Now = now
	if opts.TokenLifetime > 0 {
		acc.TokenLifetime = opts.TokenLifetime
	}
	if opts.TokenIdleTimeout > 0 {
		acc.TokenIdleTimeout = opts.TokenIdleTimeout
	}
	acc.SessionIdleTimeout = opts.SessionIdleTimeout
	if opts.TokenCacheTTL > 0 && db.Engine == storage.Postgres {
		// SQLite keeps none: a lookup there is in-process and cheap, and a
		// second process (a CLI command) could not tell the server of a
		// change.
		cache, err := accounts.NewTokenCache(opts.TokenCacheTTL)
		if err != nil {
			panic(err) // a caller's mistake: serve checks the setting
		}
		acc.Tokens = cache
	}
	fund := &funding.Service{DB: db, Now: now}
	acc.Funding = fund
	cl := &clients.Service{DB: db, Now: now, Location: loc, Region: opts.DefaultCountry, Keys: opts.Keys}
	ag := &agency.Service{DB: db, Now: now, Defaults: agency.Details{Name: opts.AgencyName, Address: opts.AgencyAddress,
		Phone: opts.AgencyPhone, Email: opts.AgencyEmail, Currency: opts.Currency, Logo: opts.AgencyLogo}}
	agencyName := func(ctx context.Context) string { return ag.Get(ctx).Name }
	inv := &inventory.Service{DB: db, Now: now, Location: loc, Clients: cl, Agency: opts.AgencyName, Keys: opts.Keys,
		AgencyOf: agencyName, Funding: fund}
	elig := &eligibility.Service{DB: db, Now: now, Location: loc, Clients: cl, Lending: inv, Keys: opts.Keys}
	inv.Waitlist = elig
	train := &training.Service{DB: db, Now: now, Clients: cl, Location: loc, Agency: opts.AgencyName,
		AgencyOf: agencyName}
	elig.Training = train
	// Requests and places a social worker or an admin made refer a client
	// to the program: coordinators see the clients they name.
	cl.Referrals = []clients.Referrals{elig, train}
	cl.Requests = elig
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	// With no provider configured (development), SMS and email go to the
	// log. Otherwise only the configured channels are used: a client who
	// prefers another cannot be reached, and their social worker is told.
	channels := map[string]notifications.Channel{}
	for name, ch := range opts.Channels {
		if ch != nil {
			channels[name] = ch
		}
	}
	if len(channels) == 0 {
		channels["sms"] = notifications.LogChannel{Log: log}
		channels["email"] = notifications.LogChannel{Log: log}
	}
	notes := notifications.NewService(db, now, loc, notifications.Agency{Name: opts.AgencyName, Phone: opts.AgencyPhone}, channels)
	notes.AgencyOf = func(ctx context.Context) notifications.Agency {
		d := ag.Get(ctx)
		return notifications.Agency{Name: d.Name, Phone: d.Phone}
	}
	notes.Clients, notes.Loans, notes.Default = cl, inv, opts.ReminderPolicy
	notes.Outbox.DatabaseNow = opts.DatabaseNow
	notes.Outbox.Keys = opts.Keys
	switch {
	case opts.RemindNowInterval == 0:
		notes.RemindNowInterval = notifications.DefaultRemindNowInterval
	case opts.RemindNowInterval > 0:
		notes.RemindNowInterval = opts.RemindNowInterval
	}
	inv.Reminders = notes
	train.Notices = notes
	rep := &reports.Service{DB: db, Now: now, Location: loc, Agency: opts.AgencyName, Currency: opts.Currency, Funding: fund, Clients: cl, Requests: elig,
		AgencyOf: func(ctx context.Context) (string, currency.Unit) { d := ag.Get(ctx); return d.Name, d.Currency }}
	notes.Reports = rep
	return &Services{DB: db, Accounts: acc, Clients: cl, Inventory: inv, Eligibility: elig,
		Training:      train,
		Idempotency:   &idempotency.Store{DB: db, Now: now, Keys: opts.Keys},
		Notifications: notes,
		Agreements: &agreements.Service{DB: db, Now: now, Location: loc, Loans: inv, Clients: cl, Keys: opts.Keys,
			Agency: agreements.Agency{Name: opts.AgencyName, Address: opts.AgencyAddress, Phone: opts.AgencyPhone,
				Email: opts.AgencyEmail, Logo: opts.AgencyLogo, Currency: opts.Currency},
			AgencyOf: func(ctx context.Context) agreements.Agency {
				d := ag.Get(ctx)
				return agreements.Agency{Name: d.Name, Address: d.Address, Phone: d.Phone, Email: d.Email, Logo: d.Logo, Currency: d.Currency}
			}},
		Reports: rep,
		Funding: fund,
		Agency:  ag}
}
