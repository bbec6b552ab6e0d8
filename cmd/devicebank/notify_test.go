package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// seedDueLoan records, as of yesterday, a client reached by SMS and a loan
// due in three days, so that today's sweep owes them a reminder.
func seedDueLoan(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := migrations.Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	yesterday := time.Now().Add(-24 * time.Hour)
	svc := app.New(db, app.Options{Keys: dbtest.Keys(t, db), Now: func() time.Time { return yesterday }})
	mk := func(role accounts.Role) *accounts.Actor {
		u, err := svc.Accounts.CreateUser(ctx, nil, accounts.NewUser{Email: string(role) + "@agency.test", Name: string(role), Role: role, Password: "a long test password"})
		if err != nil {
			t.Fatal(err)
		}
		return &accounts.Actor{ID: u.ID, Role: role}
	}
	sw, co := mk(accounts.SocialWorker), mk(accounts.Coordinator)
	s := func(v string) *string { return &v }
	sms, size := clients.SMS, 1
	c, err := svc.Clients.Create(ctx, sw, clients.Input{CaseNumber: s("N-1"), FirstName: s("Rosa"), LastName: s("Alvarez"),
		Phone: s("+1 312 555 0100"), PreferredChannel: &sms, HouseholdSize: &size})
	if err != nil {
		t.Fatal(err)
	}
	// The worker asks for a tablet for her, which refers her to the
	// coordinator, who lends her a laptop at the desk (a walk-in).
	if _, err := svc.Eligibility.FileRequest(ctx, sw, eligibility.RequestInput{ClientID: c.ID, DeviceKind: "tablet"}); err != nil {
		t.Fatal(err)
	}
	kind := inventory.Kind("laptop")
	d, err := svc.Inventory.CreateDevice(ctx, co, inventory.DeviceInput{Kind: &kind, Make: s("Acme"), Model: s("L")})
	if err != nil {
		t.Fatal(err)
	}
	due := calendar.Of(time.Now().UTC()).AddDays(3)
	if _, err := svc.Inventory.IssueLoan(ctx, co, inventory.IssueInput{ClientID: c.ID, DeviceID: d.ID, DueOn: due, WalkInJustification: "walked in at the front desk"}); err != nil {
		t.Fatal(err)
	}
}

// noQuietHoursPolicy writes a reminder policy without quiet hours, so that
// a test sends at any hour, and returns its file.
func noQuietHoursPolicy(t *testing.T) string {
	t.Helper()
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"due_soon_days": [3, 1], "due_today": true, "overdue": [{"days": 1, "notify": ["client"]}],
		"training_day_before": true, "training_hours_before": 2, "training_cancelled": true, "data_plan_ending_days": [7],
		"coordinator_digest": true, "send_at": "00:00", "quiet_hours": {"start": "", "end": ""}, "catch_up_days": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return policy
}

// notifyPass runs notify what once, which must succeed, and returns its
// one line of output and its log.
func notifyPass(t *testing.T, what string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"notify", what}, nil, &out, &errOut); code != 0 {
		t.Fatalf("notify %s exited %d: %s", what, code, errOut.String())
	}
	return strings.TrimSpace(out.String()), errOut.String()
}

// notify sweep and notify dispatch each run one pass and say what they did
// in one line; with no provider configured the log records that the
// reminder went, without its text or the client's phone number.
func TestNotifyCommands(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := dbtest.FreshURL(t, engine)
			seedDueLoan(t, url)
			t.Setenv("DATABASE_URL", url)
			t.Setenv("DEVICEBANK_REMINDER_POLICY", noQuietHoursPolicy(t))
			t.Setenv("DEVICEBANK_AGENCY_PHONE", "312-555-0199")
			pass := func(what string) (string, string) { return notifyPass(t, what) }
			if out, _ := pass("sweep"); out != "sweep: 1 created, 0 sent, 0 failed (0 to retry, 0 cancelled, 0 deferred)" {
				t.Fatalf("first sweep: %q", out)
			}
			if out, _ := pass("sweep"); !strings.HasPrefix(out, "sweep: 0 created") {
				t.Fatalf("second sweep: %q", out)
			}
			out, logs := pass("dispatch")
			if out != "dispatch: 0 created, 1 sent, 0 failed (0 to retry, 0 cancelled, 0 deferred)" {
				t.Fatalf("dispatch: %q", out)
			}
			// The log channel says which notification went, never what it said.
			if !strings.Contains(logs, "msg=reminder notification_id=1 kind=loan_due_soon channel=sms") {
				t.Errorf("the log channel did not record the reminder by id, kind and channel:\n%s", logs)
			}
			for _, secret := range []string{"Rosa", "Alvarez", "Hi ", "312-555-0199", "5550100", "555 0100", "text="} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log channel wrote %q:\n%s", secret, logs)
				}
			}
			// The loan's agreement is not signed: the coordinator hears of it,
			// once however often the digest runs that day.
			if out, _ := pass("digest"); !strings.HasPrefix(out, "digest: 1 created") {
				t.Fatalf("digest of an unsigned agreement: %q", out)
			}
			if out, _ := pass("digest"); !strings.HasPrefix(out, "digest: 0 created") {
				t.Fatalf("the digest again the same day: %q", out)
			}
		})
	}
}

// Bad reminder settings stop the command with the setting named.
func TestNotifyRefusesBadSettings(t *testing.T) {
	t.Setenv("DATABASE_URL", dbtest.FreshURL(t, "sqlite"))
	bad := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(bad, []byte(`{"due_soon_days": [0]}`), 0o600)
	null := filepath.Join(t.TempDir(), "null.json")
	os.WriteFile(null, []byte(`{"due_soon_days": [3], "due_today": null, "send_at": "09:00", "catch_up_days": 2}`), 0o600)
	notImage := filepath.Join(t.TempDir(), "logo.png")
	os.WriteFile(notImage, []byte("GIF89a not a logo"), 0o600)
	bigLogo := filepath.Join(t.TempDir(), "big.png")
	os.WriteFile(bigLogo, make([]byte, 3<<20), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"notify", "dispatch", "--smtp-host", "mail.agency.test", "--smtp-from", "nobody"}, "smtp from"},
		{[]string{"notify", "dispatch", "--sms-account-sid", "AC123"}, "auth token"},
		{[]string{"notify", "sweep", "--reminder-policy", bad}, "due_soon_days[0]"},
		{[]string{"notify", "sweep", "--reminder-policy", null}, "due_today: must not be null"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--sweep-schedule", "every tuesday"}, "sweep schedule"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--report-schedule", "monthly"}, `reports schedule "monthly"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--remind-now-interval", "soon"}, "--remind-now-interval"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--remind-now-interval", "-5m"}, "--remind-now-interval"},
		{[]string{"notify", "sweep", "--default-country", "USA"}, "--default-country"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--agency-logo", notImage}, "--agency-logo " + notImage + ": not a PNG or JPEG image"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--agency-logo", bigLogo}, "larger than 2 MB"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--agency-logo", filepath.Join(t.TempDir(), "missing.png")}, "--agency-logo: open"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--currency", "dollars"}, "--currency \"dollars\""},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--sms-account-sid", "AC123", "--sms-auth-token", "secret", "--sms-from", "+13125550100"}, "--agency-phone"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--sms-account-sid", "AC123", "--sms-auth-token", "secret", "--sms-from", "+13125550100",
			"--agency-phone", "312-555-0199"}, "--sms-webhook-url"},
	} {
		var errOut bytes.Buffer
		if code := run(context.Background(), tc.args, nil, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to mention %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}
