package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/accounts"
)

// The training pages over plain HTTP: scheduling and editing a session
// with errors in place, booking a worker's own clients (and no one
// else's), the roster as the API's enrollments list shows it, attendance
// posted once, and cancelling.

// places are a session's places as the API's enrollments list shows them
// to a coordinator, by client id.
func (e *env) places(coord string, session int64) map[int64]map[string]any {
	e.t.Helper()
	out := map[int64]map[string]any{}
	for _, it := range e.must(200, coord, "GET", path(sessionsURL+"/%d/enrollments", session), nil).JSON(e.t)["items"].([]any) {
		m := it.(map[string]any)
		out[int64(m["client_id"].(float64))] = m
	}
	return out
}

func TestPagesTrainingSessionForm(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		co, _, cTok := e.pageUser(accounts.Coordinator)
		w, _, _, wEmail := e.pageUserEmail(accounts.SocialWorker)
		count := func() float64 {
			return e.must(200, cTok, "GET", sessionsURL+"?include_cancelled=true", nil).JSON(t)["total"].(float64)
		}
		if status, body := co.getPage("/training/new"); status != 200 || !strings.Contains(body, `type="datetime-local"`) {
			t.Fatalf("the session form: %d\n%s", status, body)
		}
		good := []string{"title", "Your new tablet", "topic", "device_basics", "language", "es", "location", "Library, room 2",
			"starts_at", "2026-03-12T17:30", "ends_at", "2026-03-12T19:30", "capacity", "1", "instructor", "M. Ortiz"}
		status, _, body := co.postPage("/training/new", with(with(with(good, "title", ""), "ends_at", "2026-03-12T16:00"), "capacity", "many")...)
		if status != 422 || !strings.Contains(body, `id="f-title-error"`) || !strings.Contains(body, `id="f-capacity-error"`) ||
			!strings.Contains(body, `value="Library, room 2"`) || count() != 0 {
			t.Errorf("a bad session: %d, %v sessions\n%s", status, count(), body)
		}
		status, _, body = co.postPage("/training/new", with(good, "ends_at", "2026-03-12T16:00")...)
		if status != 422 || !strings.Contains(body, `id="f-ends_at-error"`) || !strings.Contains(body, "must be after starts_at") || count() != 0 {
			t.Errorf("a session that ends before it starts: %d\n%s", status, body)
		}
		if res, _ := co.send("POST", "/training/new", url.Values{"title": {"x"}}); res.StatusCode != 403 || count() != 0 {
			t.Errorf("a session posted without the CSRF token: %d", res.StatusCode)
		}
		if status, _, _ := w.postPage("/training/new", good...); status != 403 || count() != 0 {
			t.Errorf("a social worker schedules a session: %d", status)
		}
		if status, _ := w.getPage("/training/new"); status != 403 {
			t.Errorf("a social worker's /training/new: %d", status)
		}
		status, loc, _ := co.postPage("/training/new", good...)
		if status != 303 || !strings.HasPrefix(loc, "/training/") || count() != 1 {
			t.Fatalf("a session: %d %s", status, loc)
		}
		id := strings.TrimPrefix(loc, "/training/")
		got := e.must(200, cTok, "GET", sessionsURL+"/"+id, nil).JSON(t)
		if got["starts_at"] != "2026-03-12T17:30:00Z" || got["capacity"] != float64(1) || got["language"] != "es" {
			t.Errorf("the session scheduled: %v", got)
		}

		// Edit: the form holds the session; a bad change saves nothing.
		if status, body := co.getPage(loc + "/edit"); status != 200 || !strings.Contains(body, `value="2026-03-12T17:30"`) {
			t.Errorf("the edit form: %d\n%s", status, body)
		}
		if status, _, body := co.postPage(loc+"/edit", with(good, "capacity", "0")...); status != 422 || !strings.Contains(body, `id="f-capacity-error"`) {
			t.Errorf("a bad edit: %d\n%s", status, body)
		}
		if status, loc2, _ := co.postPage(loc+"/edit", with(good, "title", "Your tablet, step by step")...); status != 303 || loc2 != loc {
			t.Errorf("an edit: %d %s", status, loc2)
		}
		if got := e.must(200, cTok, "GET", sessionsURL+"/"+id, nil).JSON(t); got["title"] != "Your tablet, step by step" || got["capacity"] != float64(1) {
			t.Errorf("the edited session: %v", got)
		}
		if status, _ := w.getPage(loc + "/edit"); status != 403 {
			t.Errorf("a social worker's edit form: %d", status)
		}

		// The list: coming up, soonest first, then past once started,
		// latest first.
		tr := &trainers{e: e, coord: cTok}
		earlier := path(`href="/training/%d"`, tr.session(testNow.Add(24*time.Hour), time.Hour, 5, nil))
		if _, list := w.getPage("/training"); !strings.Contains(list, `href="`+loc+`"`) || strings.Index(list, earlier) > strings.Index(list, `href="`+loc+`"`) {
			t.Errorf("the sessions coming up:\n%s", list)
		}
		e.clock.Set(testNow.Add(72 * time.Hour))
		w = e.pageClient() // the session before ended 12 hours after sign-in
		w.signIn(wEmail, browserPassword)
		if _, list := w.getPage("/training"); strings.Contains(list, `href="`+loc+`"`) {
			t.Errorf("a past session is listed as coming up")
		}
		if _, list := w.getPage("/training?when=past"); !strings.Contains(list, `href="`+loc+`"`) || strings.Index(list, earlier) < strings.Index(list, `href="`+loc+`"`) {
			t.Errorf("the past sessions:\n%s", list)
		}
		if status, _ := w.getPage("/training/999999"); status != 404 {
			t.Errorf("a session that does not exist: %d", status)
		}
	})
}

func TestPagesTrainingEnrolAndAttendance(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		co, _, cTok, cEmail := e.pageUserEmail(accounts.Coordinator)
		w, _, wTok, wEmail := e.pageUserEmail(accounts.SocialWorker)
		_, _, oTok := e.pageUser(accounts.SocialWorker)
		tr := &trainers{e: e, coord: cTok, sw: wTok}
		start := testNow.Add(48 * time.Hour)
		session := tr.session(start, 2*time.Hour, 1, nil)
		first, second, theirs := e.client(wTok), e.client(wTok), e.client(oTok)
		page := path("/training/%d", session)
		id := func(n int64) string { return path("%d", n) }

		status, body := w.getPage(page)
		if status != 200 || !strings.Contains(body, "Book one of your clients") || !strings.Contains(body, `<option value="`+id(first)+`">`) ||
			strings.Contains(body, `<option value="`+id(theirs)+`">`) || strings.Contains(body, `id="roster"`) {
			t.Fatalf("a worker's session page: %d\n%s", status, body)
		}
		if status, loc, _ := w.postPage(page+"/enrol", "client_id", id(first)); status != 303 || loc != page {
			t.Fatalf("booking: %d %s", status, loc)
		}
		if got := e.places(cTok, session); len(got) != 1 || got[first]["status"] != "enrolled" {
			t.Fatalf("places after booking: %v", got)
		}
		// Sent again: refused in place, still one place.
		if status, _, body := w.postPage(page+"/enrol", "client_id", id(first)); status != 409 || !strings.Contains(body, "already enrolled") || len(e.places(cTok, session)) != 1 {
			t.Errorf("booking again: %d\n%s", status, body)
		}
		// Another worker's client, by a crafted form: as one that does not exist.
		if status, _, body := w.postPage(page+"/enrol", "client_id", id(theirs)); status != 422 || !strings.Contains(body, `id="f-client_id-error"`) ||
			!strings.Contains(body, "no client you can see has this id") || len(e.places(cTok, session)) != 1 {
			t.Errorf("booking another worker's client: %d\n%s", status, body)
		}
		if status, _, body := w.postPage(page+"/enrol", "client_id", ""); status != 422 || !strings.Contains(body, "choose a client") {
			t.Errorf("booking no one: %d\n%s", status, body)
		}
		if res, _ := w.send("POST", page+"/enrol", url.Values{"client_id": {id(second)}}); res.StatusCode != 403 || len(e.places(cTok, session)) != 1 {
			t.Errorf("booking without the CSRF token: %d", res.StatusCode)
		}
		w.postPage(page+"/enrol", "client_id", id(second)) // the session is full: the waitlist

		// The coordinator's roster is the API's list: ids, places, attendance.
		status, body = co.getPage(page)
		if status != 200 || !strings.Contains(body, `id="roster"`) || !strings.Contains(body, ">Client "+id(first)+"</a></td><td>enrolled") ||
			!strings.Contains(body, ">Client "+id(second)+"</a></td><td>waitlisted") || strings.Contains(body, "Ana") ||
			strings.Contains(body, `action="`+page+`/attendance"`) {
			t.Errorf("the roster before the session: %d\n%s", status, body)
		}
		if status, _, body := co.postPage(page+"/attendance", "client", id(first), "present", id(first)); status != 409 || !strings.Contains(body, "has not started yet") {
			t.Errorf("attendance before the session: %d\n%s", status, body)
		}

		e.clock.Set(start.Add(3 * time.Hour))
		co, w = e.pageClient(), e.pageClient() // the sessions before ended 12 hours after sign-in
		co.signIn(cEmail, browserPassword)
		w.signIn(wEmail, browserPassword)
		if _, body := co.getPage(page); !strings.Contains(body, `name="present" value="`+id(first)+`"`) || strings.Contains(body, `name="present" value="`+id(second)+`"`) {
			t.Errorf("the attendance form lists the enrolled only:\n%s", body)
		}
		// A module completed by someone absent: refused, nothing recorded.
		status, _, body = co.postPage(page+"/attendance", "client", id(first), "completed", id(first))
		if status != 422 || !strings.Contains(body, "not as present") || e.places(cTok, session)[first]["attendance"] != "" {
			t.Errorf("completed but absent: %d\n%s", status, body)
		}
		if status, _, _ := w.postPage(page+"/attendance", "client", id(first), "present", id(first)); status != 403 {
			t.Errorf("a worker records attendance: %d", status)
		}
		if res, _ := co.send("POST", page+"/attendance", url.Values{"client": {id(first)}, "present": {id(first)}}); res.StatusCode != 403 ||
			e.places(cTok, session)[first]["attendance"] != "" {
			t.Errorf("attendance without the CSRF token: %d", res.StatusCode)
		}
		for i := 0; i < 2; i++ { // posted twice, recorded as once
			if status, loc, body := co.postPage(page+"/attendance", "client", id(first), "present", id(first), "completed", id(first)); status != 303 || loc != page {
				t.Fatalf("attendance: %d %s\n%s", status, loc, body)
			}
		}
		if got := e.places(cTok, session)[first]; got["attendance"] != "present" || got["hours"] != float64(2) || got["module_completed"] != true {
			t.Errorf("the attendance recorded: %v", got)
		}
		hist := e.must(200, cTok, "GET", path(v1+"/clients/%d/history?limit=500", first), nil).JSON(t)["items"].([]any)
		n := 0
		for _, ev := range hist {
			if ev.(map[string]any)["action"] == "training.attendance_recorded" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("attendance posted twice recorded %d times", n)
		}
		if _, body := w.getPage(path("/clients/%d", first)); !strings.Contains(body, "device_basics") || !strings.Contains(body, "module completed") {
			t.Errorf("the client's training after attendance:\n%s", body)
		}

		// Withdraw from the client's page: back there, the place ended.
		if status, loc, _ := w.postPage(page+"/withdraw", "client_id", id(second), "back", "client"); status != 303 || loc != path("/clients/%d", second) {
			t.Errorf("withdrawing: %d %s", status, loc)
		}
		if got := e.places(cTok, session)[second]; got["status"] != "withdrawn" {
			t.Errorf("the withdrawn place: %v", got)
		}
		if status, _, body := w.postPage(page+"/withdraw", "client_id", id(theirs)); status != 422 || !strings.Contains(body, "has no place in this session") {
			t.Errorf("withdrawing another worker's client: %d\n%s", status, body)
		}

		// Cancelling: once; again is refused and changes nothing.
		if status, loc, _ := co.postPage(page + "/cancel"); status != 303 || loc != page {
			t.Errorf("cancelling: %d %s", status, loc)
		}
		if status, _, _ := co.postPage(page + "/cancel"); status != 409 {
			t.Errorf("cancelling again: %d", status)
		}
		if status, _, _ := w.postPage(page + "/cancel"); status != 403 {
			t.Errorf("a worker cancels: %d", status)
		}
		if _, body := co.getPage(page); !strings.Contains(body, "This session was cancelled") {
			t.Errorf("the cancelled session:\n%s", body)
		}
	})
}
