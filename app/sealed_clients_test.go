package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// sealedPerson is a client whose every personal value is unusual enough
// to be searched for in the database's bytes.
type sealedPerson struct {
	caseNumber, first, last, phone, e164, email, postal string
}

var sealedPeople = []sealedPerson{
	{"CASE-7731-XQ", "Zephyrine", "Quillabamba", "+1 312 555 0147", "+13125550147", "zephyrine.q@example.org", "60614-3321"},
	{"CASE-8842-YR", "Élodie", "Oyelaran", "+44 20 7946 0321", "+442079460321", "elodie.oyelaran@example.net", "SW1A 2AA"},
	{"CASE-9953-ZS", "Thaddeus", "Vanderkloot", "", "", "", ""},
}

func (f *fixture) createSealed(worker *accounts.Actor, p sealedPerson) *clients.Client {
	f.t.Helper()
	size, ch := 3, clients.None
	income := int64(2_345_678)
	in := clients.Input{CaseNumber: str(p.caseNumber), FirstName: str(p.first), LastName: str(p.last), PreferredChannel: &ch,
		HouseholdSize: &size, Phone: str(p.phone), Email: str(p.email), PostalCode: str(p.postal),
		AnnualIncomeCents: optional.Field[int64]{Set: true, Value: income},
		Programs:          optional.Field[clients.Codes]{Set: true, Value: clients.Codes{"snap_quokka"}},
		DateOfBirth:       optional.Field[calendar.Date]{Set: true, Value: calendar.Of(time.Date(1987, 6, 5, 0, 0, 0, 0, time.UTC))}}
	c, err := f.svc.Clients.Create(context.Background(), worker, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// No plain client value reaches the database: the raw SQLite file (and
// its write-ahead log) and a pg_dump hold none of the names, phones,
// emails, case numbers or postal codes written, created and edited
// through the service, which reads them all back.
func TestNoPlainClientValueInTheDatabase(t *testing.T) {
	onFreshDatabases(t, func(t *testing.T, engine storage.Dialect, db *storage.DB, rawURL string) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, admin := f.actor(accounts.SocialWorker), f.actor(accounts.Admin)
		var ids []int64
		for _, p := range sealedPeople {
			ids = append(ids, f.createSealed(worker, p).ID)
		}
		if _, err := f.svc.Clients.Update(ctx, worker, ids[2], clients.Input{LastName: str("Vanderkloot-Pemberton")}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Clients.List(ctx, admin, clients.Filter{Q: "Quilla"}, storage.Page{}); err != nil {
			t.Fatal(err)
		}
		for i, p := range sealedPeople {
			got, err := f.svc.Clients.Get(ctx, worker, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if got.CaseNumber != p.caseNumber || got.FirstName != p.first || got.Phone != p.e164 || got.Email != p.email ||
				got.PostalCode != p.postal || got.AnnualIncomeCents == nil || *got.AnnualIncomeCents != 2_345_678 ||
				got.DateOfBirth.String() != "1987-06-05" || len(got.Programs) != 1 {
				t.Fatalf("client %d reads back as %+v", ids[i], got)
			}
		}

		held := storedBytes(t, engine, db, rawURL)
		var values []string
		for _, p := range sealedPeople {
			values = append(values, p.caseNumber, p.first, p.last, p.e164, p.email, p.postal)
		}
		values = append(values, "Vanderkloot-Pemberton", "snap_quokka", "1987-06-05", "2345678")
		for _, v := range values {
			if v != "" && bytes.Contains(held, []byte(v)) {
				t.Errorf("%q is in the database in plain text", v)
			}
		}
		// The check can fail: a value of a column kept plain is found.
		if !bytes.Contains(held, []byte(worker.Name+"@")) && !bytes.Contains(held, []byte("@agency.test")) {
			t.Errorf("a staff email (kept plain) is not found in the database's bytes: the search reads nothing")
		}
	})
}

// sqliteBytes is everything the SQLite database at rawURL holds on disk:
// its file and write-ahead log, after a checkpoint.
func sqliteBytes(t *testing.T, db *storage.DB, rawURL string) []byte {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(rawURL, "sqlite:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	var out []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// pgDump is pg_dump's dump of the test's schema (named by search_path in
// rawURL). Without pg_dump the test is skipped, and fails under CI.
func pgDump(t *testing.T, rawURL string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is not installed: the backup check cannot run")
		}
		t.Skip("pg_dump is not installed")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	out, err := exec.Command(bin, "--no-owner", "--schema", schema, u.String()).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("pg_dump: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return out
}

// A sealed record copied onto another client's row does not open there:
// the row is bound into the seal.
func TestASealedRecordMovedToAnotherRowDoesNotOpen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker := f.actor(accounts.SocialWorker)
		a, b := f.createSealed(worker, sealedPeople[0]), f.createSealed(worker, sealedPeople[1])
		if _, err := db.ExecContext(ctx, "UPDATE clients SET personal = (SELECT personal FROM clients WHERE id = ?) WHERE id = ?", a.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Clients.Get(ctx, worker, b.ID); !errors.Is(err, keyring.ErrCannotOpen) {
			t.Fatalf("reading the row given another's record: %v, want %v", err, keyring.ErrCannotOpen)
		}
		if got, err := f.svc.Clients.Get(ctx, worker, a.ID); err != nil || got.FirstName != sealedPeople[0].first {
			t.Fatalf("the record's own row: %+v, %v", got, err)
		}
	})
}

// Searching and ordering clients work on sealed names: a search of three
// characters or more through the keyed prefix digests, a shorter one by
// opening the visible records; both ignore case (Unicode too), match the
// start of the case number or either name, and keep the name order and
// paging, for each role's own view.
func TestClientSearchWorksOnSealedNames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker, other, coordinator, admin := f.actor(accounts.SocialWorker), f.actor(accounts.SocialWorker),
			f.actor(accounts.Coordinator), f.actor(accounts.Admin)
		var ids []int64
		for _, p := range sealedPeople {
			ids = append(ids, f.createSealed(worker, p).ID)
		}
		theirs := f.createSealed(other, sealedPerson{"OTHER-1", "Zephyrine", "Abbott", "", "", "", ""})
		f.refer(worker, ids[1])

		names := func(actor *accounts.Actor, q string, page storage.Page) ([]string, int) {
			t.Helper()
			got, total, err := f.svc.Clients.List(ctx, actor, clients.Filter{Q: q}, page)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(got))
			for i, s := range got {
				out[i] = s.FirstName + " " + s.LastName
			}
			return out, total
		}
		check := func(actor *accounts.Actor, q string, want ...string) {
			t.Helper()
			got, total := names(actor, q, storage.Page{})
			if strings.Join(got, ",") != strings.Join(want, ",") || total != len(want) {
				t.Errorf("%s searching %q: %v (total %d), want %v", actor.Role, q, got, total, want)
			}
		}
		check(worker, "", "Élodie Oyelaran", "Zephyrine Quillabamba", "Thaddeus Vanderkloot")
		check(worker, "quilla", "Zephyrine Quillabamba")
		check(worker, "QUILLABAMBA", "Zephyrine Quillabamba")
		check(worker, "Quillabambas")
		check(worker, "zephyrine", "Zephyrine Quillabamba") // not the other worker's client of that name
		check(worker, "ÉLO", "Élodie Oyelaran")
		check(worker, "él", "Élodie Oyelaran") // too short for a digest: matched on the opened records
		check(worker, "case-99", "Thaddeus Vanderkloot")
		check(worker, "illa") // a prefix, not anywhere in the name
		check(admin, "zeph", "Zephyrine Abbott", "Zephyrine Quillabamba")
		check(admin, "z", "Zephyrine Abbott", "Zephyrine Quillabamba")
		check(coordinator, "", "Élodie Oyelaran")
		check(coordinator, "oye", "Élodie Oyelaran")
		check(coordinator, "quil")
		check(other, "zephyrine", "Zephyrine Abbott")

		got, total := names(admin, "", storage.Page{Limit: 2, Offset: 1})
		if strings.Join(got, ",") != "Élodie Oyelaran,Zephyrine Quillabamba" || total != 4 {
			t.Errorf("the admin's second page of two: %v (total %d)", got, total)
		}
		// A renamed client is found by the new name only.
		if _, err := f.svc.Clients.Update(ctx, other, theirs.ID, clients.Input{LastName: str("Mbeki")}); err != nil {
			t.Fatal(err)
		}
		check(other, "abbott")
		check(other, "mbek", "Zephyrine Mbeki")
	})
}

// Clients stored before records were sealed are sealed once at start
// (SealStored): their plain columns blanked, their records and searches
// as before; a second run, or two instances at once, seal nothing twice.
func TestStoredClientsAreSealedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker := f.actor(accounts.SocialWorker)
		const n = 620 // more than one batch
		for i := range n {
			if _, err := db.ExecContext(ctx, `INSERT INTO clients (case_number, first_name, last_name, phone, email, postal_code,
					preferred_channel, household_size, caseworker_id, annual_income_cents, programs, date_of_birth, needs, created_at, updated_at)
				VALUES (?, ?, 'Legacy', '+13125550100', 'old@example.org', 'K1A 0B1', 'sms', 2, ?, 1200000, '["snap"]', '1950-02-03', '["laptop"]', ?, ?)`,
				fmt.Sprintf("OLD-%04d", i), fmt.Sprintf("Person%d", i), worker.ID, f.clock.Now(), f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		counts := make(chan int, 2)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := f.svc.Clients.SealStored(ctx)
				if err != nil {
					t.Error(err)
				}
				counts <- k
			}()
		}
		wg.Wait()
		close(counts)
		total := 0
		for k := range counts {
			total += k
		}
		if total != n {
			t.Fatalf("sealed %d rows in all, want %d", total, n)
		}
		if again, err := f.svc.Clients.SealStored(ctx); err != nil || again != 0 {
			t.Fatalf("a second run sealed %d (%v), want 0", again, err)
		}
		var plain int
		if err := db.NewRaw(`SELECT COUNT(*) FROM clients WHERE case_number <> '' OR first_name <> '' OR phone <> '' OR email <> ''
			OR postal_code <> '' OR annual_income_cents IS NOT NULL OR date_of_birth IS NOT NULL OR programs <> '[]'`).Scan(ctx, &plain); err != nil {
			t.Fatal(err)
		}
		if plain != 0 {
			t.Fatalf("%d rows keep a plain value", plain)
		}
		list, total2, err := f.svc.Clients.List(ctx, worker, clients.Filter{Q: "old-0613"}, storage.Page{})
		if err != nil || total2 != 1 {
			t.Fatalf("searching a sealed case number: %v (%d), %v", list, total2, err)
		}
		c, err := f.svc.Clients.Get(ctx, worker, list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.FirstName != "Person613" || c.Phone != "+13125550100" || c.PostalCode != "K1A 0B1" || *c.AnnualIncomeCents != 1200000 ||
			c.DateOfBirth.String() != "1950-02-03" || c.Programs[0] != "snap" || c.Needs[0] != "laptop" {
			t.Fatalf("a sealed stored client reads %+v", c)
		}
		var prefix string
		var year int
		if err := db.NewRaw("SELECT postal_prefix, birth_year FROM clients WHERE id = ?", c.ID).Scan(ctx, &prefix, &year); err != nil {
			t.Fatal(err)
		}
		if prefix != "K1A" || year != 1950 {
			t.Fatalf("kept for reports: %q, %d; want K1A, 1950", prefix, year)
		}
	})
}

// A new data key (keyring.RotateData) keeps every record readable: the
// records are sealed again under it (Reseal) while another instance, whose
// ring still knows only the old key, reads them (it learns the new key on
// meeting it) and edits one (sealing it under the old key, found and
// resealed by a later pass); at the end every record is under the new key
// and reads as written.
func TestANewDataKeyKeepsEveryRecordReadable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker := f.actor(accounts.SocialWorker)
		var ids []int64
		for _, p := range sealedPeople {
			ids = append(ids, f.createSealed(worker, p).ID)
		}
		other := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: f.clock.Now}) // a second instance
		old := f.svc.Clients.Keys.CurrentDataKey()
		kek, err := keyring.ParseKEK(dbtest.DataKey)
		if err != nil {
			t.Fatal(err)
		}
		newKey, err := keyring.RotateData(ctx, db, kek, f.clock.Now())
		if err != nil || newKey == old {
			t.Fatalf("rotate: %d, %v (old %d)", newKey, err, old)
		}
		if err := f.svc.Clients.Keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.Clients.Reseal(ctx); err != nil || n != len(ids) {
			t.Fatalf("resealed %d (%v), want %d", n, err, len(ids))
		}
		// The other instance has not refreshed: it opens what is sealed
		// under the new key, and seals its edit under the old one.
		if got, err := other.Clients.Get(ctx, worker, ids[0]); err != nil || got.FirstName != sealedPeople[0].first {
			t.Fatalf("the other instance reads %+v, %v", got, err)
		}
		if _, err := other.Clients.Update(ctx, worker, ids[1], clients.Input{LastName: str("Oyelaran-Diop")}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Clients.Keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.Clients.Reseal(ctx); err != nil || n > 1 {
			t.Fatalf("the second pass resealed %d (%v), want at most the one edited", n, err)
		}
		if n, err := f.svc.Clients.Reseal(ctx); err != nil || n != 0 {
			t.Fatalf("a pass with nothing left resealed %d (%v)", n, err)
		}
		var under []int64
		if err := db.NewRaw("SELECT DISTINCT personal_key FROM clients WHERE personal <> ''").Scan(ctx, &under); err != nil {
			t.Fatal(err)
		}
		if len(under) != 1 || under[0] != newKey {
			t.Fatalf("records are under keys %v, want only %d", under, newKey)
		}
		for i, p := range sealedPeople {
			got, err := f.svc.Clients.Get(ctx, worker, ids[i])
			want := p.last
			if i == 1 {
				want = "Oyelaran-Diop"
			}
			if err != nil || got.CaseNumber != p.caseNumber || got.LastName != want || got.Email != p.email {
				t.Fatalf("client %d after the rotation: %+v, %v", ids[i], got, err)
			}
		}
	})
}

// A list shows each client as their record now reads, though an instance
// keeps the names it opened: a renamed client is listed by the new name,
// by this instance and by another that listed them before the change.
func TestAListShowsTheRecordAsLastSealed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		worker := f.actor(accounts.SocialWorker)
		other := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: f.clock.Now}) // a second instance
		id := f.createSealed(worker, sealedPeople[0]).ID
		names := func(svc *app.Services) string {
			list, _, err := svc.Clients.List(ctx, worker, clients.Filter{}, storage.Page{})
			if err != nil || len(list) != 1 || list[0].ID != id {
				t.Fatalf("the list: %+v, %v", list, err)
			}
			return list[0].FirstName + " " + list[0].LastName
		}
		if a, b := names(f.svc), names(other); a != "Zephyrine Quillabamba" || b != a {
			t.Fatalf("listed as %q and %q", a, b)
		}
		if _, err := other.Clients.Update(ctx, worker, id, clients.Input{LastName: str("Quillabamba-Ruiz")}); err != nil {
			t.Fatal(err)
		}
		if a, b := names(f.svc), names(other); a != "Zephyrine Quillabamba-Ruiz" || b != a {
			t.Fatalf("after the change, listed as %q and %q", a, b)
		}
	})
}
