package web_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/app"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/storage/dbtest"
	"github.com/devicebank/devicebank/web"
)

// Reminders through the API: reminding a client about a loan now, the
// outbox and who sees what of it, the reminder policy, and replies to text
// messages (STOP, START) through the SMS provider's webhook.

const (
	notificationsURL = v1 + "/notifications"
	policyURL        = v1 + "/notifications/policy"
	smsInboundURL    = v1 + "/sms/inbound"
)

func remindURL(loan int64) string { return path(v1+"/loans/%d/reminders", loan) }

// testSMSWebhook is how the tests set up the SMS provider's webhook: the
// auth token the provider signs with, and the public URL it calls, which
// the signature covers (the URL the server sees differs: a random port).
var testSMSWebhook = web.SMSWebhook{AuthToken: "0123456789abcdef0123456789abcdef",
	URL: "https://devicebank.example.org/api/v1/sms/inbound"}

// withSMS is a server on e's services with the SMS webhook set up.
func (e *env) withSMS() *env {
	hook := testSMSWebhook
	return e.with(web.Config{SMSWebhook: &hook})
}

// twilioSignature signs a webhook request as Twilio documents it: HMAC-SHA1
// keyed by the auth token, over the URL followed by each POST parameter's
// name and value, the parameters sorted by name (byte order, so case
// matters), in base64.
func twilioSignature(authToken, hookURL string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(hookURL))
	for _, name := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[name] {
			mac.Write([]byte(name + v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// smsMessages numbers the messages smsReply makes.
var smsMessages atomic.Int64

// smsReply is the form the provider posts for a text from a phone number,
// with the parameters of its own it adds; each has a MessageSid of its own.
func smsReply(from, body string) url.Values {
	return url.Values{"MessageSid": {fmt.Sprintf("SM%032x", smsMessages.Add(1))}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {from}, "To": {"+13125550100"}, "Body": {body}}
}

// inbound posts form to the webhook as the provider does, with signature
// in X-Twilio-Signature (none when empty), and no token.
func (e *env) inbound(form url.Values, signature string) *response {
	e.t.Helper()
	headers := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if signature != "" {
		headers = append(headers, "X-Twilio-Signature", signature)
	}
	return e.do("", "POST", smsInboundURL, form.Encode(), headers...)
}

// reply posts a correctly signed text from a phone number to the webhook
// and checks the empty TwiML answer.
func (e *env) reply(from, body string) {
	e.t.Helper()
	form := smsReply(from, body)
	r := e.inbound(form, twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, form))
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") || !bytes.Contains(r.Body, []byte("<Response></Response>")) {
		e.t.Fatalf("a signed %q from %s: %d %s %s, want 200 and empty TwiML", body, from, r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// textClient records a client of worker's who is reached by text message at
// phone, and refers them to the program (so coordinators may lend to them);
// extra fields are added or replaced.
func (e *env) textClient(worker, phone string, extra map[string]any) int64 {
	e.t.Helper()
	n := e.seq.Add(1)
	b := map[string]any{"case_number": fmt.Sprintf("SMS-%d", n), "first_name": "Rosa", "last_name": fmt.Sprintf("Texter%d", n),
		"phone": phone, "preferred_channel": "sms", "household_size": 2}
	maps.Copy(b, extra)
	id := e.must(201, worker, "POST", clientsURL, b).ID(e.t)
	e.refer(worker, id)
	return id
}

// notes is the list of notifications at query (such as "?loan_id=3") as
// token sees it; it fails unless the answer is a list whose total agrees
// (when the query asks for no page).
func (e *env) notes(token, query string) []map[string]any {
	e.t.Helper()
	r := e.must(200, token, "GET", notificationsURL+query, nil)
	m := r.JSON(e.t)
	items, ok := m["items"].([]any)
	if !ok {
		e.t.Fatalf("GET %s%s: items is not a list: %s", notificationsURL, query, r.Body)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = it.(map[string]any)
	}
	if total, _ := m["total"].(float64); int(total) != len(out) && !strings.Contains(query, "limit=") {
		e.t.Fatalf("GET %s%s: total %v with %d items on the one page", notificationsURL, query, m["total"], len(out))
	}
	return out
}

// noteIDs is the ids of notifications, in order.
func noteIDs(ns []map[string]any) []int64 {
	ids := make([]int64, len(ns))
	for i, n := range ns {
		ids[i] = int64(n["id"].(float64))
	}
	return ids
}

// expectInvalid fails unless r is a 422 naming exactly the fields want.
func expectInvalid(t *testing.T, r *response, want ...string) {
	t.Helper()
	expectError(t, r, 422, "invalid")
	expectFieldsExactly(t, r, want...)
}

func TestRemindNow(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		coID, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, sw2 := e.user(accounts.SocialWorker)
		_, funder := e.user(accounts.Funder)
		client := e.textClient(sw, "+1 312 555 0142", nil)
		loan := e.loan(co, client, e.device(co, "laptop"))
		forLoan := path("?loan_id=%d", loan)

		// Sent at once, by text (the client's channel), through the log
		// channel the test server has; the note is tidied into one line.
		n := e.must(201, co, "POST", remindURL(loan), map[string]any{"note": "  Please bring\n  the charger too. "}).JSON(t)
		now := testNow.Format(time.RFC3339)
		want := map[string]any{"kind": "manual", "recipient": "client", "client_id": float64(client), "loan_id": float64(loan),
			"user_id": nil, "session_id": nil, "data_plan_id": nil, "channel": "sms", "language": "en", "status": "sent",
			"created_by": float64(coID), "scheduled_at": now, "attempts": float64(1), "last_error": "", "sent_at": now,
			"created_at": now, "updated_at": now}
		for k, v := range want {
			if n[k] != v {
				t.Errorf("remind now: %s = %v, want %v", k, n[k], v)
			}
		}
		body, _ := n["body"].(string)
		if !strings.HasPrefix(body, "Hi Rosa,") || !strings.Contains(body, "Please bring the charger too.") {
			t.Errorf("remind now: body %q, want the English message to Rosa with the note on one line", body)
		}
		for _, hidden := range []string{"address", "dedup_key", "note", "next_attempt_at", "claimed_until", "about_date"} {
			if _, ok := n[hidden]; ok {
				t.Errorf("remind now: the answer shows %s: %v", hidden, n)
			}
		}

		// It is in the outbox, with its body, for the coordinator, the admin
		// and the client's social worker.
		id := int64(n["id"].(float64))
		for _, who := range []string{co, admin, sw} {
			got := e.notes(who, forLoan)
			if len(got) != 1 || int64(got[0]["id"].(float64)) != id || got[0]["body"] != body || got[0]["status"] != "sent" {
				t.Errorf("the loan's notifications: %v, want notification %d with its body", got, id)
			}
		}
		// Another social worker does not see the row at all, however asked.
		for _, q := range []string{"", forLoan, path("?client_id=%d", client), "?kind=manual", "?status=sent"} {
			if got := e.notes(sw2, q); len(got) != 0 {
				t.Errorf("another social worker's GET %s%s: %v, want nothing", notificationsURL, q, got)
			}
		}
		expectError(t, e.do(funder, "GET", notificationsURL, nil), 403, "forbidden")
		expectError(t, e.do("", "GET", notificationsURL, nil), 401, "unauthorized")

		// A body may be left out, or be {}: the standard message.
		for _, b := range []any{nil, "{}", map[string]any{"note": ""}} {
			plain := e.must(201, co, "POST", remindURL(loan), b).JSON(t)
			if got, _ := plain["body"].(string); !strings.HasPrefix(got, "Hi Rosa,") || strings.Contains(got, "charger") {
				t.Errorf("remind now with the body %v: %q, want the standard message", b, got)
			}
		}
		// In the client's language, and as an admin.
		spanish := e.textClient(sw, "+1 312 555 0143", map[string]any{"preferred_language": "es-MX"})
		esLoan := e.loan(co, spanish, e.device(co, "phone"))
		if es := e.must(201, admin, "POST", remindURL(esLoan), nil).JSON(t); es["language"] != "es" ||
			!strings.HasPrefix(es["body"].(string), "Hola Rosa,") {
			t.Errorf("a reminder to a client who prefers es-MX: %v", es)
		}

		// Newest first; filters.
		all := noteIDs(e.notes(co, forLoan))
		if len(all) != 4 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) || all[3] != id {
			t.Errorf("the loan's notifications: %v, want 4, newest first", all)
		}
		if got := noteIDs(e.notes(co, path("?client_id=%d&kind=manual&status=sent", spanish))); len(got) != 1 {
			t.Errorf("the Spanish client's sent reminders: %v", got)
		}
		if got := e.notes(co, forLoan+"&status=pending"); len(got) != 0 {
			t.Errorf("pending reminders of the loan: %v, want none", got)
		}
		if got := e.notes(co, forLoan+"&kind=loan_overdue"); len(got) != 0 {
			t.Errorf("overdue reminders of the loan: %v, want none", got)
		}
		if got := noteIDs(e.notes(co, forLoan+"&limit=2&offset=1")); !slices.Equal(got, all[1:3]) {
			t.Errorf("the second page of 2: %v, want %v", got, all[1:3])
		}
		expectInvalid(t, e.do(co, "GET", notificationsURL+"?status=delivered&kind=sms&loan_id=abc&client_id=0", nil),
			"status", "kind", "loan_id", "client_id")
		expectInvalid(t, e.do(co, "GET", notificationsURL+"?limit=501", nil), "limit")

		// Refused: what cannot be sent, by whom may not; none of it is sent.
		expectError(t, e.do(co, "POST", remindURL(999999), nil), 404, "not_found")
		expectError(t, e.do(co, "POST", v1+"/loans/abc/reminders", nil), 404, "not_found")
		expectError(t, e.do(co, "POST", remindURL(loan), map[string]any{"note": strings.Repeat("é", 161)}), 422, "invalid", "note")
		expectError(t, e.do(co, "POST", remindURL(loan), map[string]any{"note": "ring\u0007ring"}), 422, "invalid", "note")
		expectError(t, e.do(co, "POST", remindURL(loan), map[string]any{"message": "hello"}), 422, "invalid", "message")
		expectError(t, e.do(co, "POST", remindURL(loan), "not JSON"), 400, "malformed")
		expectError(t, e.do(sw, "POST", remindURL(loan), nil), 403, "forbidden")
		expectError(t, e.do(funder, "POST", remindURL(loan), nil), 403, "forbidden")
		expectError(t, e.do("", "POST", remindURL(loan), nil), 401, "unauthorized")
		if got := noteIDs(e.notes(co, forLoan)); !slices.Equal(got, all) {
			t.Errorf("after refused reminders the loan's notifications are %v, were %v", got, all)
		}
		// A note of 160 letters is fine (letters, not bytes).
		long := e.must(201, co, "POST", remindURL(loan), map[string]any{"note": strings.Repeat("é", 160)}).JSON(t)
		if !strings.Contains(long["body"].(string), strings.Repeat("é", 160)) {
			t.Errorf("a note of 160 letters: %v", long)
		}

		// Each reminder is in the client's history.
		if got := countAction(e.allHistoryAt(sw, path(clientsURL+"/%d/history", client)), "loan.reminder_sent"); got != 5 {
			t.Errorf("the client's history has %d loan.reminder_sent events, want 5", got)
		}

		// Only open loans: a returned or lost loan answers 409.
		e.must(200, co, "POST", path(v1+"/loans/%d/return", loan), map[string]any{"condition": "good"})
		expectError(t, e.do(co, "POST", remindURL(loan), nil), 409, "conflict")
		e.must(200, co, "POST", path(v1+"/loans/%d/lost", esLoan), map[string]any{})
		expectError(t, e.do(co, "POST", remindURL(esLoan), map[string]any{"note": "where is it?"}), 409, "conflict")
		if got := e.notes(co, forLoan); len(got) != 5 {
			t.Errorf("a closed loan's notifications: %d, want the 5 sent before", len(got))
		}
	})
}

// A resend with the same Idempotency-Key gets the first answer and sends
// nothing more.
func TestRemindNowIdempotent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, co2 := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		loan := e.loan(co, e.textClient(sw, "+1 312 555 0150", nil), e.device(co, "tablet"))
		body := idemBody(t, map[string]any{"note": "Your tablet is due soon."})
		first := e.must(201, co, "POST", remindURL(loan), body, "Idempotency-Key", "remind-once")
		expectFresh(t, first)
		expectReplay(t, first, e.do(co, "POST", remindURL(loan), body, "Idempotency-Key", "remind-once"))
		expectReplay(t, first, e.do(co, "POST", remindURL(loan), body, "Idempotency-Key", "remind-once"))
		if got := noteIDs(e.notes(co, path("?loan_id=%d", loan))); !slices.Equal(got, []int64{first.ID(t)}) {
			t.Errorf("after three sends with one key: %v, want only %d", got, first.ID(t))
		}
		// The key with another request is refused; another coordinator's
		// key of the same name is theirs.
		expectError(t, e.do(co, "POST", remindURL(loan), idemBody(t, map[string]any{"note": "Other"}), "Idempotency-Key", "remind-once"),
			422, "invalid", "Idempotency-Key")
		e.must(201, co2, "POST", remindURL(loan), body, "Idempotency-Key", "remind-once")
		if got := e.notes(co, path("?loan_id=%d", loan)); len(got) != 2 {
			t.Errorf("after another coordinator's send: %d notifications, want 2", len(got))
		}
	})
}

// Within quiet hours a reminder waits, and goes without them.
func TestRemindNowQuietHours(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		loan := e.loan(co, e.textClient(sw, "+1 312 555 0160", nil), e.device(co, "phone"))
		// 22:00 in the agency's zone (UTC here): quiet until 08:00.
		late := time.Date(2026, 3, 10, 22, 0, 0, 0, time.UTC)
		e.clock.Set(late)
		n := e.must(201, co, "POST", remindURL(loan), nil).JSON(t)
		if _, hasBody := n["body"]; n["status"] != "pending" || n["sent_at"] != nil || n["attempts"] != float64(0) || hasBody ||
			n["scheduled_at"] != late.Format(time.RFC3339) {
			t.Errorf("a reminder in quiet hours: %v, want pending, unsent, not written yet", n)
		}
		// Without quiet hours it goes at once.
		p := defaultPolicy()
		p["quiet_hours"] = map[string]any{"start": "", "end": ""}
		e.must(200, admin, "PUT", policyURL, p)
		if n := e.must(201, co, "POST", remindURL(loan), nil).JSON(t); n["status"] != "sent" {
			t.Errorf("a reminder at 22:00 without quiet hours: %v, want sent", n)
		}
		if got := e.notes(co, path("?loan_id=%d&status=pending", loan)); len(got) != 1 {
			t.Errorf("pending reminders: %v, want the one made in quiet hours", got)
		}
	})
}

// A client who cannot be reached on their channel is reminded through
// their social worker, whom the outbox shows the row to; its body only to
// those who may see the client.
func TestRemindNowOptedOut(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		swID, sw := e.user(accounts.SocialWorker)
		sw2ID, sw2 := e.user(accounts.SocialWorker)
		client := e.textClient(sw, "+1 312 555 0170", map[string]any{"preferred_language": "es"})
		loan := e.loan(co, client, e.device(co, "phone"))
		clientURL := path(clientsURL+"/%d", client)
		if c := e.must(200, sw, "GET", clientURL, nil).JSON(t); c["sms_opted_out"] != false || c["email_opted_out"] != false {
			t.Fatalf("a new client: %v, want opted in to both", c)
		}

		// The social worker records that the client wants no texts.
		if c := e.must(200, sw, "PATCH", clientURL, map[string]any{"sms_opted_out": true}).JSON(t); c["sms_opted_out"] != true {
			t.Fatalf("PATCH sms_opted_out: %v", c)
		}
		if c := e.must(200, sw, "GET", clientURL, nil).JSON(t); c["sms_opted_out"] != true || c["email_opted_out"] != false {
			t.Fatalf("the client after opting out of SMS: %v", c)
		}
		n := e.must(201, co, "POST", remindURL(loan), map[string]any{"note": "Bring it Friday."}).JSON(t)
		body, _ := n["body"].(string)
		if n["recipient"] != "social_worker" || n["user_id"] != float64(swID) || n["channel"] != "email" || n["language"] != "en" ||
			n["client_id"] != float64(client) || n["status"] != "sent" || !strings.Contains(body, fmt.Sprintf("#%d", loan)) ||
			!strings.Contains(body, "Bring it Friday.") || !strings.Contains(body, "cannot be reached") {
			t.Errorf("a reminder for a client opted out of SMS: %v, want an English email to social worker %d", n, swID)
		}
		id := int64(n["id"].(float64))
		if got := e.notes(sw, path("?loan_id=%d", loan)); len(got) != 1 || got[0]["body"] != body {
			t.Errorf("the social worker's notifications: %v, want %d with its body", got, id)
		}
		if got := e.notes(sw2, ""); len(got) != 0 {
			t.Errorf("another social worker's notifications: %v, want none", got)
		}

		// The client moves to another social worker: the first still sees
		// the row addressed to them, but no longer its body; the new one
		// sees the row (their client now) with its body.
		e.must(200, admin, "PATCH", clientURL, map[string]any{"caseworker_id": sw2ID})
		got := e.notes(sw, "")
		if _, hasBody := got[0]["body"]; len(got) != 1 || int64(got[0]["id"].(float64)) != id || hasBody {
			t.Errorf("the first social worker's notifications after the client moved: %v, want %d without a body", got, id)
		}
		if got := e.notes(sw2, ""); len(got) != 1 || got[0]["body"] != body {
			t.Errorf("the new social worker's notifications: %v, want %d with its body", got, id)
		}
		if got := e.notes(co, path("?loan_id=%d", loan)); len(got) != 1 || got[0]["body"] != body {
			t.Errorf("the coordinator's notifications: %v, want %d with its body", got, id)
		}

		// Opted back in, the client is texted again, in their language.
		e.must(200, sw2, "PATCH", clientURL, map[string]any{"sms_opted_out": false})
		if n := e.must(201, co, "POST", remindURL(loan), nil).JSON(t); n["recipient"] != "client" || n["channel"] != "sms" ||
			n["language"] != "es" || n["user_id"] != nil {
			t.Errorf("a reminder after opting back in: %v", n)
		}

		// The same for email.
		mailed := e.must(201, sw, "POST", clientsURL, map[string]any{"case_number": "MAIL-1", "first_name": "Ben", "last_name": "Okafor",
			"email": "ben@example.org", "preferred_channel": "email", "household_size": 1, "email_opted_out": true}).JSON(t)
		if mailed["email_opted_out"] != true || mailed["sms_opted_out"] != false {
			t.Fatalf("a client recorded opted out of email: %v", mailed)
		}
		e.refer(sw, int64(mailed["id"].(float64)))
		mailLoan := e.loan(co, int64(mailed["id"].(float64)), e.device(co, "phone"))
		if n := e.must(201, co, "POST", remindURL(mailLoan), nil).JSON(t); n["recipient"] != "social_worker" || n["user_id"] != float64(swID) {
			t.Errorf("a reminder for a client opted out of email: %v, want one to social worker %d", n, swID)
		}
	})
}

// defaultPolicy is DeviceBank's default reminder policy, as the API
// writes it.
func defaultPolicy() map[string]any {
	return map[string]any{"due_soon_days": []any{3, 1}, "due_today": true,
		"overdue": []any{map[string]any{"days": 1, "notify": []any{"client"}}, map[string]any{"days": 7, "notify": []any{"client", "social_worker"}},
			map[string]any{"days": 14, "notify": []any{"client", "social_worker", "coordinators"}}},
		"training_day_before": true, "training_hours_before": 2, "training_cancelled": true, "data_plan_ending_days": []any{7},
		"coordinator_digest": true, "send_at": "09:00", "quiet_hours": map[string]any{"start": "21:00", "end": "08:00"},
		"catch_up_days": 2}
}

// samePolicy fails unless the JSON answer r is the policy want.
func samePolicy(t *testing.T, what string, r *response, want map[string]any) {
	t.Helper()
	var got, w any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, r.Body)
	}
	b, _ := json.Marshal(want)
	_ = json.Unmarshal(b, &w)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s:\n got  %s\n want %s", what, r.Body, b)
	}
}

func TestReminderPolicy(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, funder := e.user(accounts.Funder)

		// Until an admin sets one, the default.
		for _, who := range []string{admin, co, sw} {
			samePolicy(t, "the default policy", e.must(200, who, "GET", policyURL, nil), defaultPolicy())
		}
		expectError(t, e.do(funder, "GET", policyURL, nil), 403, "forbidden")
		expectError(t, e.do("", "GET", policyURL, nil), 401, "unauthorized")

		// A bad policy is refused with every problem, by path, and
		// changes nothing.
		bad := defaultPolicy()
		bad["due_soon_days"] = []any{3, 3, 61}
		bad["overdue"] = []any{map[string]any{"days": 1, "notify": []any{"client"}}, map[string]any{"days": 400, "notify": []any{"client"}},
			map[string]any{"days": 7, "notify": []any{"client", "mayor"}}, map[string]any{"days": 14, "notify": []any{}}}
		bad["quiet_hours"] = map[string]any{"start": "9pm", "end": "08:00"}
		bad["training_hours_before"] = 49
		bad["catch_up_days"] = 0
		bad["send_at"] = "25:00"
		expectInvalid(t, e.do(admin, "PUT", policyURL, bad), "due_soon_days[1]", "due_soon_days[2]", "overdue[1]",
			"overdue[2].notify[1]", "overdue[3].notify", "quiet_hours.start", "training_hours_before", "catch_up_days", "send_at")
		for _, tc := range []struct {
			quiet map[string]any
			field string
		}{
			{map[string]any{"start": "21:00", "end": ""}, "quiet_hours"},
			{map[string]any{"start": "21:00", "end": "21:00"}, "quiet_hours.end"},
			{map[string]any{"start": "21:00", "end": "8am"}, "quiet_hours.end"},
		} {
			p := defaultPolicy()
			p["quiet_hours"] = tc.quiet
			expectInvalid(t, e.do(admin, "PUT", policyURL, p), tc.field)
		}
		p := defaultPolicy()
		p["overdue"] = []any{map[string]any{"days": 7, "notify": []any{"client"}}, map[string]any{"days": 7, "notify": []any{"coordinators"}}}
		expectInvalid(t, e.do(admin, "PUT", policyURL, p), "overdue[1]") // a step's days, under the step
		p = defaultPolicy()
		p["due_soon_days"] = []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
		expectInvalid(t, e.do(admin, "PUT", policyURL, p), "due_soon_days")
		p = defaultPolicy()
		p["quiet"] = true
		expectInvalid(t, e.do(admin, "PUT", policyURL, p), "quiet")
		expectError(t, e.do(admin, "PUT", policyURL, "not JSON"), 400, "malformed")
		// null is not 0, false or "none": each one is named where it is,
		// with the policy's other problems.
		p = defaultPolicy()
		p["due_today"], p["catch_up_days"], p["data_plan_ending_days"] = nil, nil, nil
		p["due_soon_days"] = []any{3, nil}
		p["quiet_hours"] = map[string]any{"start": nil, "end": "08:00"}
		p["overdue"] = []any{map[string]any{"days": nil, "notify": []any{"client"}}, map[string]any{"days": 7, "notify": []any{"client", nil}}}
		p["training_hours_before"] = 49
		r := e.do(admin, "PUT", policyURL, p)
		expectInvalid(t, r, "due_today", "catch_up_days", "data_plan_ending_days", "due_soon_days[1]", "quiet_hours.start",
			"overdue[0].days", "overdue[1].notify[1]", "training_hours_before")
		if msg := r.ErrorFields(t)["quiet_hours.start"]; !strings.Contains(fmt.Sprint(msg), "must not be null") {
			t.Errorf("quiet_hours.start: %v", msg)
		}
		samePolicy(t, "the policy after refused changes", e.must(200, admin, "GET", policyURL, nil), defaultPolicy())

		// Only an admin changes it.
		mine := defaultPolicy()
		mine["due_today"] = false
		expectError(t, e.do(sw, "PUT", policyURL, mine), 403, "forbidden")
		expectError(t, e.do(co, "PUT", policyURL, mine), 403, "forbidden")
		expectError(t, e.do(funder, "PUT", policyURL, mine), 403, "forbidden")
		expectError(t, e.do("", "PUT", policyURL, mine), 401, "unauthorized")
		samePolicy(t, "the policy after refused changes", e.must(200, sw, "GET", policyURL, nil), defaultPolicy())

		// A good one is kept, its lists in order, and given to everyone
		// who reads it.
		next := map[string]any{"due_soon_days": []any{1, 5}, "due_today": false,
			"overdue":             []any{map[string]any{"days": 10, "notify": []any{"coordinators"}}, map[string]any{"days": 2, "notify": []any{"client", "social_worker"}}},
			"training_day_before": false, "training_hours_before": 0, "training_cancelled": false, "data_plan_ending_days": []any{0, 3},
			"coordinator_digest": false, "send_at": "10:30", "quiet_hours": map[string]any{"start": "", "end": ""}, "catch_up_days": 1}
		stored := maps.Clone(next)
		stored["due_soon_days"] = []any{5, 1}
		stored["overdue"] = []any{map[string]any{"days": 2, "notify": []any{"client", "social_worker"}}, map[string]any{"days": 10, "notify": []any{"coordinators"}}}
		stored["data_plan_ending_days"] = []any{3, 0}
		samePolicy(t, "PUT a policy", e.must(200, admin, "PUT", policyURL, next), stored)
		for _, who := range []string{admin, co, sw} {
			samePolicy(t, "the policy after it was replaced", e.must(200, who, "GET", policyURL, nil), stored)
		}
		// Empty lists are lists.
		none := maps.Clone(stored)
		none["due_soon_days"], none["overdue"], none["data_plan_ending_days"] = []any{}, []any{}, []any{}
		samePolicy(t, "PUT a policy with empty lists", e.must(200, admin, "PUT", policyURL, none), none)
		samePolicy(t, "the policy with empty lists", e.must(200, co, "GET", policyURL, nil), none)
	})
}

// Replies to text messages through the provider's webhook: STOP opts the
// client out of SMS, START back in; only a request the provider signed is
// believed, and a server without SMS set up has no webhook.
func TestSMSWebhook(t *testing.T) {
	// The helper signs as Twilio documents, on its published example (the
	// one its helper libraries test with).
	example := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"}}
	if got := twilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", example); got != "RSOYDt4T1cUTdK1PDd93/VVr8B8=" {
		t.Fatalf("twilioSignature of Twilio's example: %s, want RSOYDt4T1cUTdK1PDd93/VVr8B8=", got)
	}
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		rosa := e.textClient(sw, "+1 (312) 555-0142", nil)
		ben := e.textClient(sw, "312 555 0199", nil)
		optedOut := func(client int64) any {
			return e.must(200, sw, "GET", path(clientsURL+"/%d", client), nil).JSON(t)["sms_opted_out"]
		}
		stop := smsReply("+13125550142", "STOP")
		signed := twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, stop)

		// Not set up: no webhook, signed or not, with a token or not.
		expectError(t, e.inbound(stop, signed), 404, "not_found")
		expectError(t, e.inbound(stop, ""), 404, "not_found")
		if optedOut(rosa) != false {
			t.Fatal("a STOP to a server without SMS opted the client out")
		}

		h := e.withSMS()
		// Forged: another token, another URL, a changed parameter, none.
		for _, forged := range []string{
			twilioSignature("not-the-auth-token", testSMSWebhook.URL, stop),
			twilioSignature(testSMSWebhook.AuthToken, "https://attacker.example/api/v1/sms/inbound", stop),
			twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, smsReply("+13125550142", "HELLO")),
			strings.ToLower(signed),
		} {
			expectError(t, h.inbound(stop, forged), 403, "forbidden")
		}
		expectError(t, h.inbound(stop, ""), 403, "forbidden")
		// The signature covers the sender: it cannot be moved to another.
		expectError(t, h.inbound(smsReply("+13125550199", "STOP"), signed), 403, "forbidden")
		if optedOut(rosa) != false || optedOut(ben) != false {
			t.Fatal("a forged STOP opted a client out")
		}
		// Not a form: 422, before the signature is looked at.
		expectError(t, h.do("", "POST", smsInboundURL, "From=%zz", "Content-Type", "application/x-www-form-urlencoded"), 422, "invalid")

		// A reminder waits in quiet hours when the STOP comes: it is
		// cancelled, and what follows goes to the social worker.
		loan := e.loan(co, rosa, e.device(co, "phone"))
		e.clock.Set(time.Date(2026, 3, 10, 22, 0, 0, 0, time.UTC))
		waiting := e.must(201, co, "POST", remindURL(loan), nil).JSON(t)
		if waiting["status"] != "pending" {
			t.Fatalf("a reminder in quiet hours: %v", waiting)
		}
		e.clock.Set(testNow)

		// Signed, from Rosa's number (written another way): STOP.
		h.reply("+13125550142", "STOP")
		if optedOut(rosa) != true || optedOut(ben) != false {
			t.Fatalf("after Rosa's STOP: Rosa opted out %v, Ben %v; want true, false", optedOut(rosa), optedOut(ben))
		}
		got := e.notes(co, path("?loan_id=%d", loan))
		if len(got) != 1 || got[0]["status"] != "cancelled" || got[0]["last_error"] != "the client opted out of SMS" {
			t.Errorf("a waiting text after STOP: %v, want cancelled", got)
		}
		if n := e.must(201, co, "POST", remindURL(loan), nil).JSON(t); n["recipient"] != "social_worker" {
			t.Errorf("a reminder after STOP: %v, want one to the social worker", n)
		}
		updates := func() int {
			return countAction(e.allHistoryAt(sw, path(clientsURL+"/%d/history", rosa)), "client.updated")
		}
		if n := updates(); n != 1 {
			t.Errorf("the client's history has %d client.updated events after STOP, want 1", n)
		}
		// Again: nothing more to do, still 200, nothing recorded.
		h.reply("+13125550142", "stop.")
		// Other words change nothing.
		for _, text := range []string{"Please don't stop", "START me later", ""} {
			h.reply("+13125550142", text)
		}
		if optedOut(rosa) != true {
			t.Error("a message that is not START opted Rosa back in")
		}

		// START.
		h.reply("+13125550142", " Start! ")
		if optedOut(rosa) != false {
			t.Error("after START Rosa is still opted out")
		}
		if n := updates(); n != 2 {
			t.Errorf("the client's history has %d client.updated events after STOP, STOP and START, want 2", n)
		}
		if n := e.must(201, co, "POST", remindURL(loan), nil).JSON(t); n["recipient"] != "client" || n["channel"] != "sms" {
			t.Errorf("a reminder after START: %v, want a text to the client", n)
		}
		// Ben's number, in Spanish: PARAR.
		h.reply("+13125550199", "PARAR")
		if optedOut(ben) != true || optedOut(rosa) != false {
			t.Errorf("after Ben's PARAR: Ben opted out %v, Rosa %v; want true, false", optedOut(ben), optedOut(rosa))
		}
		// A number no client has: 200, nothing changes.
		h.reply("+442071838750", "STOP")
		// A token is not needed, and one sent is not looked at.
		form := smsReply("+13125550199", "START")
		r := h.do("not-a-token", "POST", smsInboundURL, form.Encode(), "Content-Type", "application/x-www-form-urlencoded",
			"X-Twilio-Signature", twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, form))
		if r.Status != 200 || optedOut(ben) != false {
			t.Errorf("a signed START sent with a bad token: %d %s; Ben opted out %v", r.Status, r.Body, optedOut(ben))
		}
	})
}

// Client numbers are stored in E.164, however they were written, and a
// STOP matches a client's number exactly: one from a Dutch number
// (+31 25550100) is not one from Chicago (+1 312 555 0100), and a sender
// not written in E.164 matches no one.
func TestSMSStopMatchesExactNumbers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		h := e.withSMS()
		var chicago []int64
		for _, written := range []string{"+1-312-555-0100", "3125550100", "(312) 555-0100", "+1 312.555.0100"} {
			id := e.textClient(sw, written, nil)
			if got := e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)["phone"]; got != "+13125550100" {
				t.Errorf("a number written %q is stored as %v, want +13125550100", written, got)
			}
			chicago = append(chicago, id)
		}
		dutch := e.textClient(sw, "+31 20 555 0100", nil)
		optedOut := func(id int64) bool {
			return e.must(200, sw, "GET", path(clientsURL+"/%d", id), nil).JSON(t)["sms_opted_out"] == true
		}
		for _, from := range []string{"+3125550100", "3125550100", "+1 312 555 0100", "13125550100", "+312055501000"} {
			h.reply(from, "STOP")
		}
		for _, id := range append(chicago, dutch) {
			if optedOut(id) {
				t.Fatalf("client %d was opted out by a STOP from another number, or one not in E.164", id)
			}
		}
		h.reply("+31205550100", "STOP")
		if !optedOut(dutch) || optedOut(chicago[0]) {
			t.Errorf("after a STOP from +31205550100: the Dutch client opted out %v, a Chicago one %v; want true, false",
				optedOut(dutch), optedOut(chicago[0]))
		}
		h.reply("+13125550100", "STOP")
		for _, id := range chicago {
			if !optedOut(id) {
				t.Errorf("client %d at +13125550100 was not opted out by a STOP from it", id)
			}
		}
	})
}

// The provider's signature carries no time, so a signed request can be
// sent again, by the provider retrying or by anyone who saw it. A message
// already recorded (by its MessageSid) is answered 200, as the provider
// expects, and changes nothing: a replayed STOP does not undo a later
// START, and is not recorded twice, even when both copies arrive at once.
func TestSMSReplayChangesNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, sw := e.user(accounts.SocialWorker)
		rosa := e.textClient(sw, "+1 312 555 0142", nil)
		h := e.withSMS()
		optedOut := func() any { return e.must(200, sw, "GET", path(clientsURL+"/%d", rosa), nil).JSON(t)["sms_opted_out"] }
		updates := func() int {
			return countAction(e.allHistoryAt(sw, path(clientsURL+"/%d/history", rosa)), "client.updated")
		}
		send := func(form url.Values) *response {
			return h.inbound(form, twilioSignature(testSMSWebhook.AuthToken, testSMSWebhook.URL, form))
		}
		okTwiML := func(r *response, what string) {
			t.Helper()
			if r.Status != 200 || !bytes.Contains(r.Body, []byte("<Response></Response>")) {
				t.Fatalf("%s: %d %s, want 200 and empty TwiML", what, r.Status, r.Body)
			}
		}
		stop, start := smsReply("+13125550142", "STOP"), smsReply("+13125550142", "START")
		okTwiML(send(stop), "STOP")
		okTwiML(send(start), "START")
		if optedOut() != false || updates() != 2 {
			t.Fatalf("after STOP then START: opted out %v, %d client.updated events; want false, 2", optedOut(), updates())
		}
		okTwiML(send(stop), "the STOP again")
		if optedOut() != false || updates() != 2 {
			t.Fatalf("a replayed STOP: opted out %v, %d client.updated events; want false, 2", optedOut(), updates())
		}

		// Two copies of one message at once: one acts, the other is a repeat.
		again := smsReply("+13125550142", "STOP")
		var wg sync.WaitGroup
		answers := make([]*response, 2)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = send(again)
			}()
		}
		wg.Wait()
		for i, r := range answers {
			okTwiML(r, fmt.Sprint("copy ", i))
		}
		if optedOut() != true || updates() != 3 {
			t.Fatalf("two copies of a STOP at once: opted out %v, %d client.updated events; want true, 3", optedOut(), updates())
		}

		// A signed message without its id cannot be told from a replay:
		// refused, naming the field, and changes nothing.
		noID := smsReply("+13125550142", "START")
		noID.Del("MessageSid")
		r := send(noID)
		expectError(t, r, 422, "invalid", "MessageSid")
		if optedOut() != true || updates() != 3 {
			t.Fatalf("a START without MessageSid: opted out %v, %d events; want it refused", optedOut(), updates())
		}
	})
}

// "Remind now" sends at most one reminder per loan in the window (ten
// minutes unless --remind-now-interval says otherwise), whoever asks and
// however fast: a double click gets one 201 and one 429 with Retry-After.
// The window is kept in the database, so every instance shares it.
func TestRemindNowLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnvWith(t, db, app.Options{}) // the default window
		_, co := e.user(accounts.Coordinator)
		_, co2 := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.textClient(sw, "+1 312 555 0142", nil)
		loan, other := e.loan(co, client, e.device(co, "laptop")), e.loan(co, client, e.device(co, "phone"))
		sent := func(loan int64) int { return len(e.notes(co, path("?loan_id=%d", loan))) }
		limited := func(r *response, retryAfter string) {
			t.Helper()
			expectError(t, r, 429, "rate_limited")
			if got := r.Header.Get("Retry-After"); got != retryAfter {
				t.Errorf("Retry-After %q, want %q", got, retryAfter)
			}
		}

		// A double click.
		answers := make([]*response, 2)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = e.do(co, "POST", remindURL(loan), map[string]any{"note": "Please bring it back."})
			}()
		}
		wg.Wait()
		statuses := []int{answers[0].Status, answers[1].Status}
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{201, 429}) {
			t.Fatalf("a double click: %v, want one 201 and one 429\n%s\n%s", statuses, answers[0].Body, answers[1].Body)
		}
		for _, r := range answers {
			if r.Status == 429 {
				limited(r, "600")
			}
		}
		if n := sent(loan); n != 1 {
			t.Fatalf("%d reminders after a double click, want 1", n)
		}

		// Per loan, whoever asks; another loan is not held up.
		limited(e.do(co2, "POST", remindURL(loan), nil), "600")
		e.must(201, co2, "POST", remindURL(other), nil)
		// A request refused for its note takes nothing from the window.
		e.clock.Set(testNow.Add(9*time.Minute + 59*time.Second))
		limited(e.do(co, "POST", remindURL(loan), nil), "1")
		e.clock.Set(testNow.Add(10 * time.Minute))
		expectInvalid(t, e.do(co, "POST", remindURL(loan), map[string]any{"note": "ring\u0007"}), "note")
		e.must(201, co, "POST", remindURL(loan), nil)
		if n := sent(loan); n != 2 {
			t.Fatalf("%d reminders after the window, want 2", n)
		}
		if got := countAction(e.allHistoryAt(sw, path(clientsURL+"/%d/history", client)), "loan.reminder_sent"); got != 3 {
			t.Errorf("the client's history has %d loan.reminder_sent events, want 3 (two loans)", got)
		}

		// A 429 is not kept as the answer to an Idempotency-Key: the same
		// key works once the window has passed.
		body := idemBody(t, map[string]any{"note": "Your tablet is due soon."})
		limited(e.do(co, "POST", remindURL(loan), body, "Idempotency-Key", "remind-later"), "600")
		e.clock.Set(testNow.Add(20 * time.Minute))
		expectFresh(t, e.must(201, co, "POST", remindURL(loan), body, "Idempotency-Key", "remind-later"))
		if n := sent(loan); n != 3 {
			t.Fatalf("%d reminders, want 3", n)
		}
	})
}

// With no provider configured, a reminder goes to the log as its id, kind
// and channel: never the client's name, the coordinator's note, the text
// or the number.
func TestRemindNowLogsNoClientDetails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *storage.DB) {
		logs := &logBuffer{}
		e := newEnvWith(t, db, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), RemindNowInterval: -1})
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		client := e.textClient(sw, "+1 312 555 0142", map[string]any{"first_name": "Marisol"})
		loan := e.loan(co, client, e.device(co, "laptop"))
		n := e.must(201, co, "POST", remindURL(loan), map[string]any{"note": "Pick up your charger at desk nine."}).JSON(t)
		if body, _ := n["body"].(string); !strings.Contains(body, "Marisol") || !strings.Contains(body, "desk nine") {
			t.Fatalf("the reminder: %v", n)
		}
		want := fmt.Sprintf("msg=reminder notification_id=%d kind=manual channel=sms", int64(n["id"].(float64)))
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
		for _, secret := range []string{"Marisol", "desk nine", "charger", "Hi ", "5550142", "555 0142"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds %q:\n%s", secret, logs)
			}
		}
	})
}
