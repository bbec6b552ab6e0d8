package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
)

// sizes is how much the database is seeded with.
type sizes struct {
	Devices int `json:"devices"`
	Clients int `json:"clients"`
	Overdue int `json:"overdue_loans"`
	// WriterKinds is how many kinds the writers' devices are of, taken in
	// turn from writerKinds.
	WriterKinds int `json:"writer_kinds"`
}

// writerKinds are the kinds the round trips lend. Every transaction that
// changes a kind's free devices takes that kind's lock (the waitlist's
// order depends on it; inventory/reservations.go), so writers lending one
// kind take turns, and each turn includes the commit's flush to disk.
// Not "other": every seeded client waits for one, and a walk-in is not
// lent a kind someone waits for.
var writerKinds = []inventory.Kind{"tablet", "phone", "hotspot", "laptop"}

// check says whether the seed leaves room for the workloads: an overdue
// loan per overdue client and a laptop each, and a client and a device of
// their own for each writing client.
func (s sizes) check(writers int) error {
	switch {
	case s.Overdue < 1:
		return fmt.Errorf("-seed-overdue must be at least 1 (got %d)", s.Overdue)
	case s.Clients < max(s.Overdue, writers):
		return fmt.Errorf("-seed-clients must be at least -seed-overdue and -clients (got %d)", s.Clients)
	case s.WriterKinds < 1 || s.WriterKinds > len(writerKinds):
		return fmt.Errorf("-writer-kinds must be from 1 to %d (got %d)", len(writerKinds), s.WriterKinds)
	case s.Devices < s.Overdue+writers:
		return fmt.Errorf("-seed-devices must be at least -seed-overdue plus -clients, %d (got %d)", s.Overdue+writers, s.Devices)
	}
	return nil
}

// fixture is what the workloads need from the seed.
type fixture struct {
	// Coordinator and Worker are API tokens: the coordinator reads devices
	// and the overdue loans, the social worker their clients.
	Coordinator, Worker  string
	DeviceIDs, ClientIDs []int64
	// Writers are the loan round trips' coordinators, one per client of
	// the load, each with a device and a client of their own.
	Writers []writer
}

type writer struct {
	Token              string
	DeviceID, ClientID int64
}

// overdueBy is how far in the past the seeded loans fell due; they were
// issued a month before that.
const overdueBy = 30 * 24 * time.Hour

// seed migrates the database at dbURL and fills it through the domain
// services, as the service itself would have: the same invariants, audit
// events and status history. The overdue loans are issued on a clock set
// back two months; the tokens are made on the real clock, so that they
// work now.
func seed(ctx context.Context, dbURL, dataKey string, sz sizes, writers int) (*fixture, error) {
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := migrations.Apply(ctx, db); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	kek, err := keyring.ParseKEK(dataKey)
	if err != nil {
		return nil, err
	}
	keys, err := keyring.Open(ctx, db, kek, time.Now())
	if err != nil {
		return nil, err
	}
	clk := &clock{t: time.Now().Add(-2 * overdueBy)}
	s := &seeder{ctx: ctx, svc: app.New(db, app.Options{Now: clk.Now, Keys: keys}), fx: &fixture{}}
	co := s.user(accounts.Coordinator, "coordinator")
	sw := s.user(accounts.SocialWorker, "worker")
	writerActors := make([]*accounts.Actor, writers)
	for i := range writerActors {
		writerActors[i] = s.user(accounts.Coordinator, fmt.Sprintf("writer%d", i))
	}
	s.clients(sw, sz.Clients)
	laptops := s.devices(co, "laptop", sz.Overdue)
	var lent []int64
	for i := range writers {
		lent = append(lent, s.devices(co, writerKinds[i%sz.WriterKinds], 1)...)
	}
	others := []inventory.Kind{"phone", "hotspot", "laptop", "tablet"}
	for i := sz.Overdue + writers; i < sz.Devices; i++ {
		s.devices(co, others[i%len(others)], 1)
	}
	s.overdueLoans(co, laptops, clk)

	clk.Set(time.Now())
	s.fx.Coordinator, s.fx.Worker = s.token(co), s.token(sw)
	for i, a := range writerActors {
		// The last clients, so that no writer's client has an overdue loan
		// (it would not matter, the kinds differ, but it keeps them apart).
		client := s.fx.ClientIDs[len(s.fx.ClientIDs)-1-i]
		s.fx.Writers = append(s.fx.Writers, writer{Token: s.token(a), DeviceID: lent[i], ClientID: client})
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.fx, nil
}

// seeder seeds through the services, keeping the first error: after one,
// every step does nothing.
type seeder struct {
	ctx context.Context
	svc *app.Services
	fx  *fixture
	err error
	n   int
}

func (s *seeder) fail(err error, what string) bool {
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("%s: %w", what, err)
	}
	return s.err != nil
}

func (s *seeder) user(role accounts.Role, name string) *accounts.Actor {
	if s.err != nil {
		return nil
	}
	u, err := s.svc.Accounts.CreateUser(s.ctx, nil, accounts.NewUser{Email: name + "@load.test", Name: name, Role: role,
		Password: accounts.RandomPassword()})
	if s.fail(err, "user") {
		return nil
	}
	return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
}

func (s *seeder) token(a *accounts.Actor) string {
	if s.err != nil {
		return ""
	}
	plain, _, err := s.svc.Accounts.CreateToken(s.ctx, nil, a.ID, "loadtest")
	s.fail(err, "token")
	return plain
}

// clients records n clients of the social worker and refers each to the
// program (a request for a device of kind "other", which no one takes in),
// so that coordinators may lend to them.
func (s *seeder) clients(sw *accounts.Actor, n int) {
	size, channel := 2, clients.None
	for i := 0; i < n && s.err == nil; i++ {
		c, err := s.svc.Clients.Create(s.ctx, sw, clients.Input{CaseNumber: ptr(fmt.Sprintf("LOAD-%05d", i)),
			FirstName: ptr("Load"), LastName: ptr(fmt.Sprintf("Client %d", i)), PreferredChannel: &channel, HouseholdSize: &size})
		if s.fail(err, "client") {
			return
		}
		_, err = s.svc.Eligibility.FileRequest(s.ctx, sw, eligibility.RequestInput{ClientID: c.ID, DeviceKind: "other", Reason: "referral"})
		if s.fail(err, "request") {
			return
		}
		s.fx.ClientIDs = append(s.fx.ClientIDs, c.ID)
	}
}

// devices takes n devices of kind into the pool, each with an accessory
// (a device read loads its accessories too), and returns their ids.
func (s *seeder) devices(co *accounts.Actor, kind inventory.Kind, n int) []int64 {
	var ids []int64
	for i := 0; i < n && s.err == nil; i++ {
		s.n++
		d, err := s.svc.Inventory.CreateDevice(s.ctx, co, inventory.DeviceInput{Kind: &kind, Make: ptr("Acme"),
			Model: ptr("L" + string(kind)), Serial: ptr(fmt.Sprintf("LOAD%06d", s.n)), Condition: ptr("good"),
			Accessories: &[]inventory.Accessory{{Name: "charger", ReplacementCostCents: 1500}}})
		if s.fail(err, "device") {
			return nil
		}
		ids = append(ids, d.ID)
		s.fx.DeviceIDs = append(s.fx.DeviceIDs, d.ID)
	}
	return ids
}

// overdueLoans lends each laptop to a client, due a month after the
// clock's today, which is a month ago.
func (s *seeder) overdueLoans(co *accounts.Actor, laptops []int64, clk *clock) {
	due := calendar.Today(clk.Now(), time.UTC).AddDays(int(overdueBy / (24 * time.Hour)))
	for i, id := range laptops {
		if s.err != nil {
			return
		}
		_, err := s.svc.Inventory.IssueLoan(s.ctx, co, inventory.IssueInput{ClientID: s.fx.ClientIDs[i], DeviceID: id,
			DueOn: due, WalkInJustification: "seeded by the load test"})
		s.fail(err, "loan")
	}
}

func ptr[T any](v T) *T { return &v }

// clock is a settable clock for the seed.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
