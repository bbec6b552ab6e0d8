package app_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/agreements"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/training"
)

// outbox is a channel that keeps what it was given to deliver.
type outbox struct {
	mu   sync.Mutex
	sent []notifications.Notification
}

func (o *outbox) Send(ctx context.Context, n *notifications.Notification) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, *n)
	return nil
}

// take returns what was sent since the last take.
func (o *outbox) take() []notifications.Notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.sent
	o.sent = nil
	return out
}

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// reminderFixture is a fixture whose agency is in Chicago and whose
// channels (SMS and email unless named) go to one recording outbox.
func reminderFixture(t *testing.T, db *storage.DB, start time.Time, channels ...string) (*fixture, *outbox) {
	t.Helper()
	clk := &clock{t: start}
	sent := &outbox{}
	if len(channels) == 0 {
		channels = []string{"sms", "email"}
	}
	configured := map[string]notifications.Channel{}
	for _, ch := range channels {
		configured[ch] = sent
	}
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: clk.Now, Location: chicago, AgencyName: "Northside", AgencyPhone: "312-555-0199",
		Channels: configured, DatabaseNow: storage.FollowClock(clk.Now)})
	svc.Accounts.HashParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	return &fixture{t: t, db: db, svc: svc, clock: clk}, sent
}

// local is a wall-clock time in Chicago.
func local(month time.Month, day, hour, min int) time.Time {
	return time.Date(2026, month, day, hour, min, 0, 0, chicago)
}

// client records a client reached on channel, with a surname that must
// never appear in a reminder, and refers them to the program (so that a
// coordinator may lend to them).
func (f *fixture) client(sw *accounts.Actor, first string, channel clients.Channel, lang string) int64 {
	f.t.Helper()
	f.n++
	size := 2
	in := clients.Input{CaseNumber: str(fmt.Sprintf("R-%d", f.n)), FirstName: str(first), LastName: str("Secretsurname"),
		PreferredChannel: &channel, PreferredLanguage: str(lang), HouseholdSize: &size,
		AnnualIncomeCents: optional.Of(int64(1234500))}
	switch channel {
	case clients.SMS:
		in.Phone = str(fmt.Sprintf("+1 (312) 555-%04d", f.n))
	case clients.Email:
		in.Email = str(fmt.Sprintf("client%d@example.org", f.n))
	}
	c, err := f.svc.Clients.Create(context.Background(), sw, in)
	if err != nil {
		f.t.Fatal(err)
	}
	f.refer(sw, c.ID)
	return c.ID
}

func (f *fixture) lend(co *accounts.Actor, client int64, due calendar.Date, plan *int64) *inventory.Loan {
	f.t.Helper()
	// Due after the plan ends is allowed here: the plan-ending reminder is
	// for such loans.
	l, err := f.svc.Inventory.IssueLoan(context.Background(), co, inventory.IssueInput{ClientID: client, DeviceID: f.laptop(co), DueOn: due,
		DataPlanID: plan, DueAfterPlanEnds: true, WalkInJustification: "walked in at the front desk"})
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// run sweeps and dispatches at the clock's time and returns what went out,
// as sorted "kind>recipient" lines.
func (f *fixture) run(sent *outbox) []string {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.svc.Notifications.Sweep(ctx); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.svc.Notifications.DispatchDue(ctx); err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, n := range sent.take() {
		out = append(out, fmt.Sprintf("%s>%s:%s", n.Kind, n.Recipient, n.Channel))
		for _, secret := range []string{"Secretsurname", "12345", "12,345"} {
			if strings.Contains(n.Body, secret) {
				f.t.Errorf("a reminder carries %q: %s", secret, n.Body)
			}
		}
	}
	sort.Strings(out)
	return out
}

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Walking day by day from the loan's issue to two weeks past due, each
// policy step fires on its day, once, to the right people: the client on
// their channel, or their social worker when they have none, then a copy
// to the worker, then the coordinators.
func TestLoanRemindersFireOnTheirDays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.actor(accounts.Coordinator) // a second coordinator for the last step
		rosa := f.client(sw, "Rosa", clients.SMS, "es-MX")
		nora := f.client(sw, "Nora", clients.None, "en")
		f.lend(co, rosa, date("2026-04-10"), nil)
		f.lend(co, nora, date("2026-04-10"), nil)

		want := map[int][]string{
			7:  {"loan_due_soon>client:sms", "loan_due_soon>social_worker:email"},
			9:  {"loan_due_soon>client:sms", "loan_due_soon>social_worker:email"},
			10: {"loan_due_today>client:sms", "loan_due_today>social_worker:email"},
			11: {"loan_overdue>client:sms", "loan_overdue>social_worker:email"},
			// Step 7 copies the worker on Rosa's loan too: one note each.
			17: {"loan_overdue>client:sms", "loan_overdue>social_worker:email", "loan_overdue>social_worker:email"},
			24: {"loan_overdue>client:sms", "loan_overdue>coordinator:email", "loan_overdue>coordinator:email",
				"loan_overdue>coordinator:email", "loan_overdue>coordinator:email",
				"loan_overdue>social_worker:email", "loan_overdue>social_worker:email"},
		}
		for day := 1; day <= 28; day++ {
			f.clock.Set(local(4, day, 10, 0))
			got := f.run(sent)
			if strings.Join(got, " ") != strings.Join(want[day], " ") {
				t.Errorf("April %d: sent %v, want %v", day, got, want[day])
			}
			// A second pass the same day adds nothing.
			if again := f.run(sent); len(again) != 0 {
				t.Errorf("April %d, second pass: %v", day, again)
			}
		}
	})
}

// A reminder reads as the client's language, greets them by first name,
// names the agency and its phone, and nothing else about them.
func TestReminderTextIsTheClientsLanguageAndDiscreet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.lend(co, f.client(sw, "Rosa", clients.SMS, "es-MX"), date("2026-04-10"), nil)
		f.lend(co, f.client(sw, "Ben", clients.Email, "fr-CA"), date("2026-04-10"), nil)
		f.clock.Set(local(4, 7, 10, 0))
		f.run(sent)
		var bodies []string
		for _, n := range f.sentRows(t, "loan_due_soon") {
			bodies = append(bodies, n.Language+": "+n.Body)
		}
		sort.Strings(bodies)
		if len(bodies) != 2 ||
			!strings.HasPrefix(bodies[0], "es: Hola Rosa, ") || !strings.Contains(bodies[0], "10 de abril de 2026") ||
			!strings.HasPrefix(bodies[1], "fr: Bonjour Ben, ") || !strings.Contains(bodies[1], "10 avril 2026") {
			t.Fatalf("bodies: %q", bodies)
		}
		for _, b := range bodies {
			if !strings.Contains(b, "Northside") || !strings.Contains(b, "312-555-0199") {
				t.Errorf("the agency or its phone is missing: %s", b)
			}
		}
	})
}

// sentRows reads the outbox rows of kind that were sent, through the API a
// coordinator uses.
func (f *fixture) sentRows(t *testing.T, kind notifications.Kind) []notifications.Notification {
	t.Helper()
	admin := &accounts.Actor{ID: 0, Role: accounts.Admin}
	rows, _, err := f.svc.Notifications.List(context.Background(), admin, notifications.Filter{Kind: kind, Status: notifications.Sent}, storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// "Today" is the agency's: at 22:00 in Chicago (03:00 UTC the next day) a
// loan due the next local day is due tomorrow, not today. What the sweep
// creates at night waits for the end of the quiet hours.
func TestSweepFollowsTheAgencyDayAndQuietHours(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.lend(co, f.client(sw, "Rosa", clients.SMS, "en"), date("2026-04-10"), nil)

		f.clock.Set(local(4, 9, 22, 0)) // 2026-04-10 03:00 UTC
		if got := f.run(sent); len(got) != 0 {
			t.Fatalf("sent during quiet hours: %v", got)
		}
		pending := f.rows(t, notifications.Filter{Status: notifications.Pending})
		if len(pending) != 1 || pending[0].Kind != notifications.LoanDueSoon {
			t.Fatalf("at 22:00 on the 9th, want one due-soon reminder waiting: %+v", pending)
		}
		f.clock.Set(local(4, 10, 7, 59))
		if got := f.run(sent); strings.Join(got, " ") != "" {
			t.Fatalf("sent at 07:59: %v", got)
		}
		f.clock.Set(local(4, 10, 8, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_soon>client:sms" {
			t.Fatalf("at 08:00 the held reminder goes: %v", got)
		}
		// The due-today reminder is scheduled for 09:00.
		f.clock.Set(local(4, 10, 9, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_today>client:sms" {
			t.Fatalf("at 09:00: %v", got)
		}
	})
}

func (f *fixture) rows(t *testing.T, filter notifications.Filter) []notifications.Notification {
	t.Helper()
	admin := &accounts.Actor{Role: accounts.Admin}
	rows, _, err := f.svc.Notifications.List(context.Background(), admin, filter, storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Renewing a loan cancels the reminders about the old due date and the
// sweep makes new ones for the new date; returning it cancels the rest.
func TestRenewalReschedulesAndReturnCancels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		loan := f.lend(co, f.client(sw, "Rosa", clients.SMS, "en"), date("2026-04-10"), nil)

		f.clock.Set(local(4, 7, 7, 0)) // created, held by the quiet hours
		f.run(sent)
		if _, err := f.svc.Inventory.RenewLoan(ctx, co, loan.ID, inventory.RenewInput{DueOn: date("2026-04-20")}); err != nil {
			t.Fatal(err)
		}
		cancelled := f.rows(t, notifications.Filter{Status: notifications.Cancelled, LoanID: loan.ID})
		if len(cancelled) != 1 || cancelled[0].LastError != "the loan was renewed" {
			t.Fatalf("the old due date's reminder: %+v", cancelled)
		}
		f.clock.Set(local(4, 7, 10, 0))
		if got := f.run(sent); len(got) != 0 {
			t.Fatalf("after the renewal nothing is due: %v", got)
		}
		f.clock.Set(local(4, 17, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_soon>client:sms" {
			t.Fatalf("three days before the new date: %v", got)
		}
		f.clock.Set(local(4, 19, 7, 0))
		f.run(sent)
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(local(4, 19, 10, 0))
		if got := f.run(sent); len(got) != 0 {
			t.Fatalf("after the return: %v", got)
		}
		cancelled = f.rows(t, notifications.Filter{Status: notifications.Cancelled, LoanID: loan.ID})
		if len(cancelled) != 2 || cancelled[0].LastError != "the loan was closed" {
			t.Fatalf("after the return: %+v", cancelled)
		}
	})
}

// A STOP reply opts the client out of SMS at once: what was waiting is
// cancelled and later reminders go to their social worker. START undoes it.
func TestStopReplyOptsOut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		rosa := f.client(sw, "Rosa", clients.SMS, "en")
		f.lend(co, rosa, date("2026-04-10"), nil)
		c, _ := f.svc.Clients.Get(ctx, sw, rosa)

		f.clock.Set(local(4, 7, 7, 0))
		f.run(sent)
		if c.Phone != "+13125550003" { // written "+1 (312) 555-0003"
			t.Fatalf("the client's number is stored as %q, want it in E.164", c.Phone)
		}
		out, err := f.svc.Notifications.RecordReply(ctx, notifications.InboundSMS{MessageSID: "SM1", From: c.Phone, Body: " stop "})
		if err != nil || out != (notifications.ReplyOutcome{Reply: notifications.ReplyStop, Changed: 1}) {
			t.Fatalf("STOP: %+v %v", out, err)
		}
		if c, _ := f.svc.Clients.Get(ctx, sw, rosa); !c.SMSOptedOut {
			t.Fatal("the client is not opted out")
		}
		if rows := f.rows(t, notifications.Filter{Status: notifications.Cancelled}); len(rows) != 1 || rows[0].LastError != "the client opted out of SMS" {
			t.Fatalf("the waiting SMS: %+v", rows)
		}
		f.clock.Set(local(4, 9, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_soon>social_worker:email" {
			t.Fatalf("after STOP: %v", got)
		}
		if out, _ := f.svc.Notifications.RecordReply(ctx, notifications.InboundSMS{MessageSID: "SM2", From: "+13125550002", Body: "STOP"}); out.Changed != 0 {
			t.Fatalf("a number no client has changed %d clients", out.Changed)
		}
		if out, err := f.svc.Notifications.RecordReply(ctx, notifications.InboundSMS{MessageSID: "SM3", From: c.Phone, Body: "Start"}); err != nil || out.Changed != 1 {
			t.Fatalf("START: %+v %v", out, err)
		}
		f.clock.Set(local(4, 10, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_today>client:sms" {
			t.Fatalf("after START: %v", got)
		}
	})
}

// Enrolled clients hear of a session the day before and two hours before;
// a withdrawal or a cancellation stops what is pending, and a cancellation
// tells everyone who had a place.
func TestTrainingReminders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		rosa, ben := f.client(sw, "Rosa", clients.SMS, "es"), f.client(sw, "Ben", clients.Email, "en")
		class := f.session(co, "device_basics", local(4, 3, 18, 0), 2, 10)
		other := f.session(co, "internet_safety", local(4, 6, 18, 0), 2, 10)
		for _, s := range []*training.Session{class, other} {
			for _, c := range []int64{rosa, ben} {
				if _, err := f.svc.Training.Enroll(ctx, sw, s.ID, c); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.clock.Set(local(4, 2, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "training_upcoming>client:email training_upcoming>client:sms" {
			t.Fatalf("the day before: %v", got)
		}
		if _, err := f.svc.Training.Withdraw(ctx, sw, class.ID, ben); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(local(4, 3, 16, 0))
		if got := f.run(sent); strings.Join(got, " ") != "training_upcoming>client:sms" {
			t.Fatalf("two hours before, after Ben withdrew: %v", got)
		}
		body := f.sentRows(t, notifications.TrainingUpcoming)[0].Body
		if !strings.Contains(body, "3 de abril a las 18:00") {
			t.Fatalf("the session's time in Spanish, agency time: %s", body)
		}
		// The other session: the day-before reminder is waiting (quiet
		// hours) when the session is cancelled.
		f.clock.Set(local(4, 5, 7, 0))
		f.run(sent)
		if _, err := f.svc.Training.CancelSession(ctx, co, other.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(local(4, 5, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "training_cancelled>client:email training_cancelled>client:sms" {
			t.Fatalf("after the cancellation: %v", got)
		}
		if rows := f.rows(t, notifications.Filter{Kind: notifications.TrainingUpcoming, Status: notifications.Cancelled}); len(rows) != 2 {
			t.Fatalf("the cancelled session's reminders: %+v", rows)
		}
	})
}

// A data plan on a loan is announced before it ends.
func TestDataPlanEnding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		start := date("2026-03-01")
		plan, err := f.svc.Inventory.CreateDataPlan(ctx, co, inventory.DataPlanInput{Carrier: str("Acme Mobile"), LineNumber: str("+1 312 555 7000"),
			StartsOn: &start, EndsOn: optional.Of(date("2026-04-20"))})
		if err != nil {
			t.Fatal(err)
		}
		f.lend(co, f.client(sw, "Rosa", clients.SMS, "en"), date("2026-06-30"), &plan.ID)
		f.clock.Set(local(4, 12, 10, 0))
		if got := f.run(sent); len(got) != 0 {
			t.Fatalf("eight days before: %v", got)
		}
		f.clock.Set(local(4, 13, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "data_plan_ending>client:sms" {
			t.Fatalf("seven days before: %v", got)
		}
		if body := f.sentRows(t, notifications.DataPlanEnding)[0].Body; !strings.Contains(body, "April 20, 2026") {
			t.Fatalf("body: %s", body)
		}
	})
}

// The coordinators' digest goes once a day to each coordinator, only when
// there is something to report.
func TestCoordinatorDigest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 8, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.actor(accounts.Coordinator)
		if res, err := f.svc.Notifications.Digest(ctx); err != nil || res.Created != 0 {
			t.Fatalf("nothing to report: %+v %v", res, err)
		}
		loan := f.lend(co, f.client(sw, "Rosa", clients.None, "en"), date("2026-04-10"), nil)
		if _, err := f.svc.Inventory.ReturnLoan(ctx, co, loan.ID, inventory.ReturnInput{Condition: "good"}); err != nil {
			t.Fatal(err)
		}
		// An open loan whose agreement is signed is not counted; one that
		// is not, is.
		signed := f.lend(co, f.client(sw, "Ana", clients.None, "en"), date("2026-04-10"), nil)
		if _, err := f.svc.Agreements.Accept(ctx, co, signed.ID, agreements.AcceptanceInput{Method: agreements.Paper}); err != nil {
			t.Fatal(err)
		}
		f.lend(co, f.client(sw, "Lupe", clients.None, "en"), date("2026-04-10"), nil)
		for i, want := range []int{2, 0} {
			if res, err := f.svc.Notifications.Digest(ctx); err != nil || res.Created != want {
				t.Fatalf("digest %d: %+v %v", i+1, res, err)
			}
		}
		if _, err := f.svc.Notifications.DispatchDue(ctx); err != nil {
			t.Fatal(err)
		}
		got := sent.take()
		if len(got) != 2 || got[0].Body != "DeviceBank (Northside): Today: 1 device waiting for inspection, 0 loans overdue, 1 open loan without a signed agreement." {
			t.Fatalf("digest: %+v", got)
		}
		f.clock.Set(local(4, 2, 8, 0))
		if res, _ := f.svc.Notifications.Digest(ctx); res.Created != 2 {
			t.Fatalf("the next day: %+v", res)
		}
	})
}

// A coordinator's "remind now" goes at once, to the client or, when the
// client cannot be reached, to their worker; at night it waits.
func TestRemindNow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		loan := f.lend(co, f.client(sw, "Rosa", clients.SMS, "en"), date("2026-04-10"), nil)
		n, err := f.svc.Notifications.SendNow(ctx, co, loan.ID, notifications.RemindInput{Note: "  Your  charger is ready. "})
		if err != nil || n.Status != notifications.Sent || n.Kind != notifications.Manual || n.Recipient != notifications.ClientRecipient {
			t.Fatalf("remind now: %+v %v", n, err)
		}
		if got := sent.take(); len(got) != 1 || !strings.Contains(got[0].Body, "Your charger is ready.") {
			t.Fatalf("sent: %+v", got)
		}
		if _, err := f.svc.Notifications.SendNow(ctx, sw, loan.ID, notifications.RemindInput{}); !apperrIs(err, "forbidden") {
			t.Fatalf("a social worker: %v", err)
		}
		if _, err := f.svc.Notifications.SendNow(ctx, co, loan.ID, notifications.RemindInput{Note: strings.Repeat("x", 161)}); !apperrIs(err, "invalid") {
			t.Fatalf("a long note: %v", err)
		}
		f.clock.Set(local(4, 1, 23, 0))
		n, err = f.svc.Notifications.SendNow(ctx, co, loan.ID, notifications.RemindInput{})
		if err != nil || n.Status != notifications.Pending {
			t.Fatalf("at 23:00: %+v %v", n, err)
		}
		f.clock.Set(local(4, 2, 8, 0))
		if got := f.run(sent); strings.Join(got, " ") != "manual>client:sms" {
			t.Fatalf("the next morning: %v", got)
		}
	})
}

// Two instances sweeping and dispatching at the same time over one
// database create each reminder once and deliver it once.
func TestTwoSchedulersNeverSendTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		const loans = 40
		for i := 0; i < loans; i++ {
			f.lend(co, f.client(sw, "Client", []clients.Channel{clients.SMS, clients.Email, clients.None}[i%3], "en"),
				date("2026-04-10").AddDays(i%5), nil)
		}
		// A second instance: its own services on the same database and clock.
		other := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: f.clock.Now, Location: chicago, AgencyName: "Northside",
			Channels: map[string]notifications.Channel{"sms": sent, "email": sent}, DatabaseNow: storage.FollowClock(f.clock.Now)})
		instances := []*notifications.Service{f.svc.Notifications, other.Notifications}
		for _, day := range []int{7, 9, 10, 11, 13, 17} {
			f.clock.Set(local(4, day, 10, 0))
			var wg sync.WaitGroup
			errs := make(chan error, 2*len(instances))
			for _, n := range instances {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						if _, err := n.Sweep(context.Background()); err != nil {
							errs <- err
						}
						if _, err := n.DispatchDue(context.Background()); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		deliveries := map[int64]int{}
		for _, n := range sent.take() {
			deliveries[n.ID]++
		}
		ctx := context.Background()
		marked, _ := db.NewSelect().Table("notifications").Where("status = 'sent'").Count(ctx)
		total, _ := db.NewSelect().Table("notifications").Count(ctx)
		if int64(len(deliveries)) != marked || marked != total || marked < loans {
			t.Fatalf("%d notifications delivered, %d marked sent, %d in the outbox", len(deliveries), marked, total)
		}
		for id, n := range deliveries {
			if n != 1 {
				t.Errorf("notification %d delivered %d times", id, n)
			}
		}
	})
}

// A cancellation reaches the clients who had a seat, not the waitlist,
// and goes out at night when waiting for morning would be too late.
func TestCancellationReachesTheEnrolledEvenAtNight(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		rosa, ben := f.client(sw, "Rosa", clients.SMS, "es"), f.client(sw, "Ben", clients.Email, "en")
		early := f.session(co, "device_basics", local(4, 6, 7, 30), 1, 1)
		for _, c := range []int64{rosa, ben} {
			if _, err := f.svc.Training.Enroll(ctx, sw, early.ID, c); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Set(local(4, 5, 21, 30))
		if _, err := f.svc.Training.CancelSession(ctx, co, early.ID); err != nil {
			t.Fatal(err)
		}
		got := f.run(sent)
		if strings.Join(got, " ") != "training_cancelled>client:sms" {
			t.Fatalf("at 21:30 for a 07:30 session: %v", got)
		}
	})
}

// With only email configured, a client who prefers SMS cannot be reached:
// their social worker is told, and says so.
func TestOnlyConfiguredChannelsReachClients(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		f, sent := reminderFixture(t, db, local(4, 1, 10, 0), "email")
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		f.lend(co, f.client(sw, "Rosa", clients.SMS, "en"), date("2026-04-10"), nil)
		f.lend(co, f.client(sw, "Ben", clients.Email, "en"), date("2026-04-10"), nil)
		f.clock.Set(local(4, 7, 10, 0))
		if got := f.run(sent); strings.Join(got, " ") != "loan_due_soon>client:email loan_due_soon>social_worker:email" {
			t.Fatalf("sent: %v", got)
		}
		rows := f.rows(t, notifications.Filter{Status: notifications.Sent})
		for _, r := range rows {
			if r.Recipient == notifications.SocialWorkerRecipient && !strings.Contains(r.Body, "cannot be reached") {
				t.Fatalf("the worker's note: %s", r.Body)
			}
		}
		// Day 7 overdue copies the worker on Ben's loan, whom the client's
		// own reminder reached.
		f.clock.Set(local(4, 17, 10, 0))
		f.run(sent)
		var copies []string
		for _, r := range f.rows(t, notifications.Filter{Kind: notifications.LoanOverdue, Status: notifications.Sent}) {
			if r.Recipient == notifications.SocialWorkerRecipient {
				copies = append(copies, r.Body)
			}
		}
		sort.Strings(copies)
		if len(copies) != 2 || !strings.Contains(copies[0]+copies[1], "The client has been sent a reminder too.") ||
			!strings.Contains(copies[0]+copies[1], "cannot be reached") {
			t.Fatalf("the worker's copies: %q", copies)
		}
	})
}

// One instance sweeps at a time: while another holds the sweep's lock, a
// sweep on PostgreSQL skips its turn and creates nothing; once the lock is
// free it creates what is due. Two sweeps at once, on either database,
// create each reminder once between them.
func TestOneSweepAtATime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f, _ := reminderFixture(t, db, local(4, 1, 10, 0))
		sw, co := f.actor(accounts.SocialWorker), f.actor(accounts.Coordinator)
		for i := range 6 {
			f.lend(co, f.client(sw, "Client", clients.SMS, "en"), date("2026-04-10").AddDays(i%2), nil)
		}
		other := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: f.clock.Now, Location: chicago, AgencyName: "Northside",
			Channels: map[string]notifications.Channel{"sms": &outbox{}}}).Notifications
		f.clock.Set(local(4, 7, 10, 0))
		count := func() int {
			n, err := db.NewSelect().Table("notifications").Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
		if db.Engine == storage.Postgres {
			holder, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := storage.TryLockName(ctx, holder, notifications.SweepLock); err != nil || !ok {
				t.Fatalf("take the sweep lock: %v %v", ok, err)
			}
			res, err := other.Sweep(ctx)
			if err != nil || !res.Skipped || res.Created != 0 || count() != 0 {
				t.Fatalf("a sweep while another holds the lock: %+v %v, %d rows; want skipped, nothing created", res, err, count())
			}
			holder.Rollback()
		}
		results := make(chan notifications.SweepResult, 2)
		var wg sync.WaitGroup
		for _, svc := range []*notifications.Service{f.svc.Notifications, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := svc.Sweep(ctx)
				if err != nil {
					t.Error(err)
				}
				results <- res
			}()
		}
		wg.Wait()
		close(results)
		created := 0
		for res := range results {
			created += res.Created
		}
		if created != 3 || count() != 3 {
			t.Fatalf("two sweeps at once created %d, %d rows; want the 3 loans due in three days, once", created, count())
		}
	})
}
