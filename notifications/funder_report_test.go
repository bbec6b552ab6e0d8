package notifications_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/documents/doctest"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// funders is an agency in Chicago with two funding sources and their
// devices, a funder of each, a funder linked to none, an inactive funder
// and a coordinator; email goes to a real SMTP server on loopback.
type funders struct {
	t                         *testing.T
	ctx                       context.Context
	db                        *storage.DB
	clock                     *clock
	svc                       *app.Services
	mail                      *notifications.MailServer
	admin, co                 *accounts.Actor
	city, state, none, former *accounts.Actor
	emails                    map[int64]string
}

func newFunders(t *testing.T, db *storage.DB) *funders {
	t.Helper()
	f := &funders{t: t, ctx: context.Background(), db: db, clock: &clock{t: time.Date(2026, 10, 15, 9, 0, 0, 0, chicago)},
		mail: notifications.StartMailServer(t), emails: map[int64]string{}}
	f.svc = f.services()
	f.admin, f.co = f.user(accounts.Admin, "admin"), f.user(accounts.Coordinator, "co")
	source := func(name string, devices int) int64 {
		s, err := f.svc.Funding.Create(f.ctx, f.admin, funding.Input{Name: &name})
		f.must(err)
		for i := 0; i < devices; i++ {
			kind, mk, model := inventory.Kind("laptop"), "Acme", "L"
			_, err := f.svc.Inventory.CreateDevice(f.ctx, f.co, inventory.DeviceInput{Kind: &kind, Make: &mk, Model: &model,
				FundingSourceID: optional.Of(s.ID)})
			f.must(err)
		}
		return s.ID
	}
	city, state := source("City grant", 3), source("State fund", 7)
	link := func(name string, sources ...int64) *accounts.Actor {
		a := f.user(accounts.Funder, name)
		_, err := f.svc.Accounts.UpdateUser(f.ctx, f.admin, a.ID, accounts.UserPatch{FundingSourceIDs: &sources})
		f.must(err)
		return a
	}
	f.city, f.state, f.none, f.former = link("city", city), link("state", state), link("none"), link("former", city)
	off := false
	_, err := f.svc.Accounts.UpdateUser(f.ctx, f.admin, f.former.ID, accounts.UserPatch{Active: &off})
	f.must(err)
	f.clock.Set(time.Date(2026, 12, 1, 7, 0, 0, 0, chicago))
	return f
}

// services are one instance's services on the test's database and clock.
func (f *funders) services() *app.Services {
	f.t.Helper()
	email, err := notifications.NewEmailChannel(f.mail.Config())
	f.must(err)
	svc := app.New(f.db, app.Options{Keys: dbtest.Keys(f.t, f.db), Now: f.clock.Now, Location: chicago, AgencyName: "Northside", AgencyPhone: "312-555-0199",
		Channels: map[string]notifications.Channel{"email": email}, DatabaseNow: storage.FollowClock(f.clock.Now)})
	svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	return svc
}

func (f *funders) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *funders) user(role accounts.Role, name string) *accounts.Actor {
	f.t.Helper()
	email := name + "@agency.test"
	u, err := f.svc.Accounts.CreateUser(f.ctx, nil, accounts.NewUser{Email: email, Name: name, Role: role, Password: "a long test password"})
	f.must(err)
	f.emails[u.ID] = email
	return &accounts.Actor{ID: u.ID, Name: u.Name, Role: u.Role}
}

func (f *funders) queue(svc *app.Services) int {
	f.t.Helper()
	res, err := svc.Notifications.FunderReports(f.ctx)
	f.must(err)
	return res.Created
}

func (f *funders) dispatch() notifications.DispatchResult {
	f.t.Helper()
	res, err := f.svc.Notifications.DispatchDue(f.ctx)
	f.must(err)
	return res
}

// rows are the outbox's funder reports, by id.
func (f *funders) rows() []notifications.Notification {
	f.t.Helper()
	out, _, err := f.svc.Notifications.List(f.ctx, f.admin, notifications.Filter{Kind: notifications.FunderReport}, storage.Page{Limit: 100})
	f.must(err)
	slices.Reverse(out) // oldest first
	return out
}

// email is one message the SMTP server received, read back.
type email struct {
	to                      string
	subject, body           string
	attachment, contentType string
	pdf                     []byte
}

// received reads every message the server got, in order.
func (f *funders) received() []email {
	f.t.Helper()
	tos, data := f.mail.Received()
	var out []email
	for i, raw := range data {
		m, err := netmail.ReadMessage(bytes.NewReader(raw))
		f.must(err)
		e := email{to: strings.Join(tos[i], ",")}
		e.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		f.must(err)
		mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		f.must(err)
		if mediaType != "multipart/mixed" {
			f.t.Fatalf("message %d is %s, want multipart/mixed with the PDF", i, mediaType)
		}
		parts := multipart.NewReader(m.Body, params["boundary"])
		for {
			p, err := parts.NextRawPart()
			if errors.Is(err, io.EOF) {
				break
			}
			f.must(err)
			var body io.Reader = p
			switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
			case "base64":
				body = base64.NewDecoder(base64.StdEncoding, p)
			case "quoted-printable":
				body = quotedprintable.NewReader(p)
			}
			b, err := io.ReadAll(body)
			f.must(err)
			if name := p.FileName(); name != "" {
				e.attachment, e.contentType, e.pdf = name, p.Header.Get("Content-Type"), b
			} else {
				e.body = strings.TrimSpace(string(b))
			}
		}
		out = append(out, e)
	}
	return out
}

// Each active funder with an email gets last month's report once, however
// often the job runs and from however many instances at once; the email
// holds the PDF of their own funding sources only, and the outbox keeps
// no report.
func TestFunderReportsGoOncePerFunderAndMonth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFunders(t, db)
		other := f.services() // a second instance on the same database
		var wg sync.WaitGroup
		created := make([]int, 4)
		for i := range created {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc := f.svc
				if i%2 == 1 {
					svc = other
				}
				res, err := svc.Notifications.FunderReports(f.ctx)
				if err != nil {
					t.Error(err)
				}
				created[i] = res.Created
			}()
		}
		wg.Wait()
		if total := created[0] + created[1] + created[2] + created[3]; total != 3 {
			t.Fatalf("four concurrent runs created %v, want 3 in all (city, state, none)", created)
		}
		rows := f.rows()
		want := map[int64]bool{f.city.ID: true, f.state.ID: true, f.none.ID: true}
		for _, n := range rows {
			if n.UserID == nil || !want[*n.UserID] || n.Recipient != notifications.FunderRecipient || n.Channel != "email" ||
				n.AboutDate.String() != "2026-11-01" || n.Body != "" || n.DedupKey != fmt.Sprintf("funder_report:2026-11:user:%d", *n.UserID) {
				t.Errorf("queued: %+v", n)
			}
		}
		if len(rows) != 3 {
			t.Fatalf("%d rows queued, want 3", len(rows))
		}

		// Sent once, by two dispatchers at once.
		var results [2]notifications.DispatchResult
		for i, svc := range []*app.Services{f.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := svc.Notifications.DispatchDue(f.ctx)
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			}()
		}
		wg.Wait()
		if results[0].Sent+results[1].Sent != 3 {
			t.Fatalf("dispatched %+v, want 3 sent in all", results)
		}
		got := f.received()
		if len(got) != 3 {
			t.Fatalf("the server received %d messages, want 3", len(got))
		}
		seen := map[string]email{}
		for _, e := range got {
			seen[e.to] = e
			if e.subject != "Northside DeviceBank: utilization report for November 2026" ||
				e.body != "The DeviceBank utilization report for November 2026 is attached. It covers the funding sources linked to your account at Northside." ||
				e.attachment != "utilization-2026-11-01-to-2026-11-30.pdf" || !strings.HasPrefix(e.contentType, "application/pdf") {
				t.Errorf("to %s: subject %q, body %q, attachment %q (%s)", e.to, e.subject, e.body, e.attachment, e.contentType)
			}
		}
		figures := func(who *accounts.Actor, present, absent []string) {
			t.Helper()
			e, ok := seen[f.emails[who.ID]]
			if !ok {
				t.Fatalf("no email to %s", f.emails[who.ID])
			}
			text := strings.Join(strings.Fields(doctest.Text(t, e.pdf)), " ")
			for _, s := range present {
				if !strings.Contains(text, s) {
					t.Errorf("%s's report lacks %q", who.Name, s)
				}
			}
			for _, s := range absent {
				if strings.Contains(text, s) {
					t.Errorf("%s's report shows %q", who.Name, s)
				}
			}
		}
		period := "1 November 2026 to 30 November 2026"
		figures(f.city, []string{period, "Funding sources City grant", "Devices at end 3", "laptop 3"}, []string{"State fund", "Devices at end 7"})
		figures(f.state, []string{period, "Funding sources State fund", "Devices at end 7", "laptop 7"}, []string{"City grant", "Devices at end 3"})
		figures(f.none, []string{period, "None: no funding source is linked", "Devices at end 0"}, []string{"City grant", "State fund"})
		if _, ok := seen[f.emails[f.former.ID]]; ok {
			t.Error("an inactive funder was sent the report")
		}

		// The outbox holds the short text, never the report.
		for _, n := range f.rows() {
			if n.Status != notifications.Sent || !strings.HasPrefix(n.Body, "The DeviceBank utilization report for November 2026") {
				t.Errorf("after sending: %+v", n)
			}
		}
		pdfs, err := db.NewSelect().Table("notifications").Where("body LIKE '%PDF%' OR note LIKE '%PDF%'").Count(f.ctx)
		if err != nil || pdfs != 0 {
			t.Errorf("%d outbox rows hold a PDF (%v)", pdfs, err)
		}

		// Later in December: nothing more. On January 1st: December's.
		f.clock.Set(time.Date(2026, 12, 31, 23, 59, 0, 0, chicago))
		if n := f.queue(f.svc); n != 0 {
			t.Fatalf("on December 31st %d more were queued", n)
		}
		f.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, chicago))
		if n := f.queue(other) + f.queue(f.svc); n != 3 {
			t.Fatalf("on January 1st %d were queued, want 3", n)
		}
		for _, n := range f.rows()[3:] {
			if n.AboutDate.String() != "2026-12-01" {
				t.Errorf("January's run is about %s, want December", n.AboutDate)
			}
		}
	})
}

// failingReports stands in for the report service: it fails, or cancels
// the dispatch that called it, when told to.
type failingReports struct {
	real   notifications.Reports
	fail   bool
	cancel context.CancelFunc
}

func (r *failingReports) UtilizationPDF(ctx context.Context, actor *accounts.Actor, from, to calendar.Date) ([]byte, error) {
	if r.fail {
		return nil, errors.New("the database is away")
	}
	pdf, err := r.real.UtilizationPDF(ctx, actor, from, to)
	if r.cancel != nil {
		r.cancel() // SIGTERM while the report was drawn
	}
	return pdf, err
}

// A dispatch cancelled while the report is drawn, a report that cannot be
// drawn and a mail server that cannot be reached leave the report to be
// sent later, once; a funder who is no longer one, or was deactivated, is
// not sent it.
func TestFunderReportIsRetriedNotLostNorDuplicated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFunders(t, db)
		if n := f.queue(f.svc); n != 3 {
			t.Fatalf("queued %d, want 3", n)
		}
		// The state's funder becomes a coordinator, the unlinked one leaves.
		role, off := accounts.Coordinator, false
		_, err := f.svc.Accounts.UpdateUser(f.ctx, f.admin, f.state.ID, accounts.UserPatch{Role: &role})
		f.must(err)
		_, err = f.svc.Accounts.UpdateUser(f.ctx, f.admin, f.none.ID, accounts.UserPatch{Active: &off})
		f.must(err)

		notes := f.svc.Notifications
		stub := &failingReports{real: notes.Reports}
		notes.Reports = stub
		ctx, cancel := context.WithCancel(f.ctx)
		stub.cancel = cancel
		res, err := notes.DispatchDue(ctx)
		if !errors.Is(err, context.Canceled) || res.Sent != 0 {
			t.Fatalf("cancelled dispatch: %+v %v", res, err)
		}
		stub.cancel = nil
		for _, n := range f.rows() {
			if n.Status != notifications.Pending && n.Status != notifications.Cancelled || n.Attempts != 0 {
				t.Errorf("after a cancelled dispatch: %s attempts %d (%s)", n.Status, n.Attempts, n.LastError)
			}
		}

		stub.fail = true
		if res := f.dispatch(); res.Retrying != 1 || res.Sent != 0 || res.Failed != 0 {
			t.Fatalf("with the report failing: %+v", res)
		}
		stub.fail = false
		// The mail server is away: the email channel fails, to be retried.
		away := f.mail.Config()
		away.Port = 1
		ch, err := notifications.NewEmailChannel(away)
		f.must(err)
		working := notes.Outbox.Channels["email"]
		notes.Outbox.Channels["email"] = ch
		f.clock.Set(f.clock.Now().Add(notifications.Backoff(1)))
		if res := f.dispatch(); res.Retrying != 1 || res.Sent != 0 {
			t.Fatalf("with the mail server away: %+v", res)
		}
		notes.Outbox.Channels["email"] = working
		f.clock.Set(f.clock.Now().Add(notifications.Backoff(2)))
		if res := f.dispatch(); res.Sent != 1 {
			t.Fatalf("once all is well: %+v", res)
		}
		f.clock.Set(f.clock.Now().Add(time.Hour))
		if res := f.dispatch(); res != (notifications.DispatchResult{}) {
			t.Fatalf("an hour later: %+v", res)
		}
		got := f.received()
		if len(got) != 1 || got[0].to != f.emails[f.city.ID] || got[0].attachment == "" {
			t.Fatalf("received %+v, want the city funder's report once", got)
		}
		byUser := map[int64]notifications.Notification{}
		for _, n := range f.rows() {
			byUser[*n.UserID] = n
		}
		if n := byUser[f.city.ID]; n.Status != notifications.Sent || n.Attempts != 3 {
			t.Errorf("the city's: %s after %d attempts (%s)", n.Status, n.Attempts, n.LastError)
		}
		if n := byUser[f.state.ID]; n.Status != notifications.Cancelled || n.LastError != "the user is no longer a funder" {
			t.Errorf("the former funder's: %s (%s)", n.Status, n.LastError)
		}
		if n := byUser[f.none.ID]; n.Status != notifications.Cancelled || n.LastError != "the staff member was deactivated" {
			t.Errorf("the deactivated funder's: %s (%s)", n.Status, n.LastError)
		}
	})
}
