// Package app wires the domain services to one database, so that the
// server, the CLI and the tests all build them the same way.
package app

import (
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/idempotency"
	"github.com/devicebank/devicebank/inventory"
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
}

// Options adjust the services; the zero value is the production setup.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the agency's time zone; nil means UTC.
	Location *time.Location
	// AgencyName is printed on documents such as certificates.
	AgencyName string
}

// New builds the services on db.
func New(db *storage.DB, opts Options) *Services {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	loc := calendar.Zone(opts.Location)
	acc := accounts.NewService(db)
	acc.Now = now
	cl := &clients.Service{DB: db, Now: now, Location: loc}
	inv := &inventory.Service{DB: db, Now: now, Location: loc, Clients: cl}
	cl.Borrowers = []clients.Borrowers{inv}
	elig := &eligibility.Service{DB: db, Now: now, Location: loc, Clients: cl, Lending: inv}
	inv.Waitlist = elig
	train := &training.Service{DB: db, Now: now, Clients: cl, Location: loc, Agency: opts.AgencyName}
	elig.Training = train
	cl.Borrowers = append(cl.Borrowers, train)
	cl.Borrowers = append(cl.Borrowers, elig)
	return &Services{DB: db, Accounts: acc, Clients: cl, Inventory: inv, Eligibility: elig,
		Training:    train,
		Idempotency: &idempotency.Store{DB: db, Now: now}}
}
