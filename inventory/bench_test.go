package inventory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// BenchmarkIssueAndReturn measures one loan's round trip through the
// service layer: issue a device, return it, and inspect it back into the
// pool (three transactions, each with its audit event).
func BenchmarkIssueAndReturn(b *testing.B) {
	for _, engine := range dbtest.Engines(b) {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			db := dbtest.Open(b, engine)
			svc := app.New(db, app.Options{Keys: dbtest.Keys(b, db)})
			svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
			mk := func(role accounts.Role) *accounts.Actor {
				u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: string(role) + "@bench.test",
					Name: string(role), Role: role, Password: "benchmark password"})
				if err != nil {
					b.Fatal(err)
				}
				return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
			}
			co, sw := mk(accounts.Coordinator), mk(accounts.SocialWorker)
			str := func(s string) *string { return &s }
			size := 2
			channel := clients.None
			client, err := svc.Clients.Create(ctx, sw, clients.Input{CaseNumber: str("B-1"), FirstName: str("Bench"),
				LastName: str("Mark"), PreferredChannel: &channel, HouseholdSize: &size})
			if err != nil {
				b.Fatal(err)
			}
			kind := inventory.Kind("phone")
			device, err := svc.Inventory.CreateDevice(ctx, co, inventory.DeviceInput{Kind: &kind, Make: str("Acme"), Model: str("P1")})
			if err != nil {
				b.Fatal(err)
			}
			due := calendar.Of(time.Now().AddDate(0, 1, 0))
			wiped := true
			for b.Loop() {
				loan, err := svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: client.ID, DeviceID: device.ID, DueOn: due, WalkInJustification: "walked in at the front desk"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"}); err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Inventory.InspectDevice(ctx, co, device.ID, inventory.InspectionInput{Wiped: &wiped, Outcome: inventory.Ready}); err != nil {
					b.Fatal(fmt.Errorf("inspect: %w", err))
				}
			}
		})
	}
}
