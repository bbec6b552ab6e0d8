package clients_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// benchClients is how many clients the list benchmarks hold: a busy
// worker's caseload is some dozens; an agency's whole roll some thousands.
const benchClients = 2000

// surnames vary the starts of the clients' last names, as real ones do: a
// search narrows to one in twenty.
var surnames = []string{"Garcia", "Nguyen", "Okafor", "Smith", "Kowalski", "Haddad", "Silva", "Ivanova", "Mensah", "Cohen",
	"Tanaka", "Dubois", "Rossi", "Larsen", "Patel", "Walker", "Yilmaz", "Ahmed", "Brown", "Lopez"}

// BenchmarkClients measures a client record's life through the service on
// each database: created (with every personal field), read, edited, and
// listed by a social worker (a caseload of 50) and by an admin (every
// client: the first page, and a search by name), each with its audit
// event, as the API does it.
func BenchmarkClients(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			db := dbtest.Open(b, engine)
			svc := app.New(db, app.Options{Keys: dbtest.Keys(b, db)})
			svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
			mk := func(role accounts.Role, name string) *accounts.Actor {
				u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: name + "@bench.test",
					Name: name, Role: role, Password: "benchmark password"})
				if err != nil {
					b.Fatal(err)
				}
				return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
			}
			worker, busy, admin := mk(accounts.SocialWorker, "worker"), mk(accounts.SocialWorker, "busy"), mk(accounts.Admin, "admin")
			n := 0
			create := func(actor *accounts.Actor) *clients.Client {
				n++
				str := func(s string) *string { return &s }
				size, channel := 3, clients.SMS
				c, err := svc.Clients.Create(ctx, actor, clients.Input{CaseNumber: str(fmt.Sprintf("B-%07d", n)),
					FirstName: str(fmt.Sprintf("Given%d", n%97)), LastName: str(fmt.Sprintf("%s%d", surnames[n%len(surnames)], n)),
					Phone: str(fmt.Sprintf("+1312555%04d", n%10000)), Email: str(fmt.Sprintf("c%d@bench.test", n)),
					PostalCode: str("60614"), PreferredChannel: &channel, HouseholdSize: &size})
				if err != nil {
					b.Fatal(err)
				}
				return c
			}
			for i := range benchClients {
				who := busy
				if i < 50 {
					who = worker
				}
				create(who)
			}
			one := create(worker)
			list := func(actor *accounts.Actor, q string) {
				if _, _, err := svc.Clients.List(ctx, actor, clients.Filter{Q: q}, storage.Page{Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("create", func(b *testing.B) {
				for b.Loop() {
					create(busy)
				}
			})
			b.Run("read", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.Clients.Get(ctx, worker, one.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("edit", func(b *testing.B) {
				i := 0
				for b.Loop() {
					i++
					email := fmt.Sprintf("edited%d@bench.test", i)
					if _, err := svc.Clients.Update(ctx, worker, one.ID, clients.Input{Email: &email}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("caseload", func(b *testing.B) {
				for b.Loop() {
					list(worker, "")
				}
			})
			b.Run("all", func(b *testing.B) {
				for b.Loop() {
					list(admin, "")
				}
			})
			b.Run("search", func(b *testing.B) {
				for b.Loop() {
					list(admin, "okafor12")
				}
			})
		})
	}
}
