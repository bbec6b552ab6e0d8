package pages

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/training"
)

// The training pages: the sessions, a session's page (booking a social
// worker's own clients; for those who manage training the roster, as the
// API's enrollments list shows it, and attendance), and the session form.
// The lists name no client, so their pages are links.

// sessionRow is a session as the pages show it: its times in the agency's
// zone.
type sessionRow struct {
	training.Session
	When, Ends string
	Started    bool
}

func (p *Pages) sessionRow(s training.Session) sessionRow {
	return sessionRow{Session: s, When: p.when(s.StartsAt), Ends: p.when(s.EndsAt), Started: !s.StartsAt.After(p.svc.Training.Now())}
}

type trainingListData struct {
	Sessions  []sessionRow
	Pager     Pager
	Past      bool
	CanManage bool
}

// trainingList is the sessions to come, soonest first, or (?when=past)
// those that have started, latest first.
func (p *Pages) trainingList(c *fiber.Ctx) error {
	pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
	if err != nil {
		return err
	}
	d := trainingListData{Past: c.Query("when") == "past", CanManage: Actor(c).Can(accounts.ManageTraining)}
	f := training.SessionFilter{From: p.svc.Training.Now()}
	if d.Past {
		f = training.SessionFilter{To: p.svc.Training.Now(), Newest: true}
	}
	list, total, err := p.svc.Training.Sessions(c.UserContext(), f, pg)
	if err != nil {
		return err
	}
	for _, s := range list {
		d.Sessions = append(d.Sessions, p.sessionRow(s))
	}
	d.Pager = NewPager("/training", pg, total)
	if d.Past {
		d.Pager.Hidden = map[string]string{"when": "past"}
	}
	return p.render(c, fiber.StatusOK, "training", "Training", nil, d)
}

type sessionPageData struct {
	Session sessionRow
	// Own are the actor's own clients, to book (a social worker's
	// caseload); nil for those who keep none.
	Own       []Option
	CanEnrol  bool
	CanManage bool
	// Roster is the session's places as GET
	// /api/v1/training/sessions/:id/enrollments shows them: client ids,
	// never names; Attend are its enrolled places, for attendance.
	Roster []training.Enrollment
	Attend []attendRow
	Pager  Pager
	Hours  string
}

type attendRow struct {
	ClientID           int64
	Present, Completed bool
}

// sessionPage is one session. A social worker books their own clients in
// it or withdraws them; those who manage training see its roster, record
// attendance once it has started, edit and cancel it.
func (p *Pages) sessionPage(c *fiber.Ctx) error {
	return p.renderSession(c, fiber.StatusOK, NewForm("client_id", "Client"), nil)
}

func (p *Pages) renderSession(c *fiber.Ctx, status int, f *Form, attendance *Form) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	ss, err := p.svc.Training.Session(ctx, id)
	if err != nil {
		return err
	}
	d := sessionPageData{Session: p.sessionRow(*ss), CanManage: a.Can(accounts.ManageTraining)}
	d.Hours = strconv.FormatFloat(ss.EndsAt.Sub(ss.StartsAt).Hours(), 'f', -1, 64)
	if a.Can(accounts.EnrollTraining) && a.Can(accounts.WriteClients) && ss.Status == "scheduled" {
		own, _, err := p.svc.Clients.List(ctx, a, clients.Filter{CaseworkerID: a.ID}, storage.Page{Limit: storage.MaxPageLimit})
		if err != nil {
			return err
		}
		d.Own = []Option{{"", "Choose a client"}}
		for _, cl := range own {
			d.Own = append(d.Own, Option{strconv.FormatInt(cl.ID, 10), cl.LastName + ", " + cl.FirstName + " (" + cl.CaseNumber + ")"})
		}
		d.CanEnrol = len(own) > 0
	}
	if d.CanManage {
		pg, err := storage.ParsePage(c.Query("limit"), c.Query("offset"))
		if err != nil {
			return err
		}
		var total int
		if d.Roster, total, err = p.svc.Training.Enrollments(ctx, id, pg); err != nil {
			return err
		}
		d.Pager = NewPager("/training/"+strconv.FormatInt(id, 10), pg, total)
		// The form holds the places whose attendance the actor may record:
		// the service refuses a client they may not see (a coordinator's
		// client whose referral ended), who stays on the roster by id.
		visible, err := p.visiblePlaces(c, d.Roster)
		if err != nil {
			return err
		}
		for _, e := range d.Roster {
			if e.Status == "enrolled" && visible[e.ClientID] {
				row := attendRow{ClientID: e.ClientID, Present: e.Attendance == "present" || e.Attendance == "late", Completed: e.ModuleCompleted}
				if attendance != nil {
					key := strconv.FormatInt(e.ClientID, 10)
					row.Present = contains(strings.Split(attendance.Values["present"], ","), key)
					row.Completed = contains(strings.Split(attendance.Values["completed"], ","), key)
				}
				d.Attend = append(d.Attend, row)
			}
		}
	}
	if attendance != nil {
		f = attendance
	}
	return p.render(c, status, "training-session", ss.Title, f, d)
}

// enrol books one of the actor's clients in the session, by the service
// POST /api/v1/training/sessions/:id/enrollments calls; a resend is
// refused in place (the client already holds the place).
func (p *Pages) enrol(c *fiber.Ctx) error {
	return p.place(c, func(id, clientID int64) error {
		_, err := p.svc.Training.Enroll(c.UserContext(), Actor(c), id, clientID)
		return err
	})
}

// withdraw takes the client out of the session, as DELETE
// …/enrollments/:client_id does; from the client's page it goes back there.
func (p *Pages) withdraw(c *fiber.Ctx) error {
	return p.place(c, func(id, clientID int64) error {
		_, err := p.svc.Training.Withdraw(c.UserContext(), Actor(c), id, clientID)
		if apperr.Is(err, apperr.NotFound) {
			// No place of a client the actor may see: told alike whether
			// the client exists or not.
			return (apperr.Fields{"client_id": "has no place in this session"}).Err()
		}
		return err
	})
}

func (p *Pages) place(c *fiber.Ctx, do func(id, clientID int64) error) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	f := NewForm("client_id", "Client")
	f.Values["client_id"] = c.FormValue("client_id")
	var bad apperr.Fields
	clientID := formID(&bad, "client_id", f.Values["client_id"])
	bad.Check(clientID == 0 && f.Values["client_id"] == "", "client_id", "choose a client")
	if err = bad.Err(); err == nil {
		if err = do(id, clientID); err == nil {
			if c.FormValue("back") == "client" {
				return c.Redirect("/clients/"+strconv.FormatInt(clientID, 10), fiber.StatusSeeOther)
			}
			return c.Redirect("/training/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
		}
	}
	if apperr.Is(err, apperr.NotFound) || !f.Fail(err) {
		return err
	}
	return p.renderSession(c, see(err), f, nil)
}

// recordAttendance records the session's enrolled clients shown on the
// roster, posted once: a ticked box is present (credited the session's
// length), an empty one absent; "completed" marks the module done. Every
// line is checked before any is recorded, so a mistake records nothing;
// each is then recorded by the service of POST …/attendance, which
// changes nothing when a line is posted again as it stands.
func (p *Pages) recordAttendance(c *fiber.Ctx) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	ctx, a := c.UserContext(), Actor(c)
	ss, err := p.svc.Training.Session(ctx, id)
	if err != nil {
		return err
	}
	multi := func(name string) []string {
		var out []string
		for _, b := range c.Request().PostArgs().PeekMulti(name) {
			out = append(out, string(b))
		}
		return out
	}
	f := NewForm("attendance", "Attendance")
	f.Values["present"], f.Values["completed"] = strings.Join(multi("present"), ","), strings.Join(multi("completed"), ",")
	places, _, err := p.svc.Training.Enrollments(ctx, id, storage.Page{Limit: storage.MaxPageLimit})
	if err != nil {
		return err
	}
	enrolled := map[int64]bool{}
	for _, e := range places {
		enrolled[e.ClientID] = e.Status == "enrolled"
	}
	// Every line is checked as the service will check it before any is
	// recorded: a client the actor may not see is refused by it.
	visible, err := p.visiblePlaces(c, places)
	if err != nil {
		return err
	}
	var bad apperr.Fields
	var lines []training.AttendanceInput
	hours := ss.EndsAt.Sub(ss.StartsAt).Hours()
	// Each box once, however often it was posted: a line per client on
	// the roster, so that a form of thousands of repeated boxes costs no
	// more than the roster.
	present, completed, done := map[string]bool{}, map[string]bool{}, map[int64]bool{}
	for _, v := range multi("present") {
		present[v] = true
	}
	for _, v := range multi("completed") {
		completed[v] = true
	}
	for _, v := range multi("client") {
		clientID, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !enrolled[clientID] {
			if len(v) > 20 {
				v = v[:20] + "…"
			}
			bad.Add("attendance", "client "+v+" is not enrolled in this session any more; reload the page")
			continue
		}
		if !visible[clientID] {
			bad.Add("attendance", "client "+v+": "+clients.NoClient)
			continue
		}
		if done[clientID] {
			continue
		}
		done[clientID] = true
		in := training.AttendanceInput{ClientID: clientID, Status: "absent"}
		if present[v] {
			in.Status, in.Hours = "present", hours
		}
		if completed[v] {
			in.ModuleCompleted = true
			bad.Check(in.Status == "absent", "attendance", "client "+v+" is marked as having completed the module but not as present")
		}
		lines = append(lines, in)
	}
	if ss.StartsAt.After(p.svc.Training.Now()) {
		err = apperr.New(apperr.Conflict, "the session has not started yet; attendance is recorded after it starts")
	} else if ss.Status != "scheduled" {
		err = apperr.New(apperr.Conflict, "the session was cancelled")
	} else {
		err = bad.Err()
	}
	for i := 0; err == nil && i < len(lines); i++ {
		_, err = p.svc.Training.RecordAttendance(ctx, a, id, lines[i])
	}
	if err == nil {
		return c.Redirect("/training/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
	}
	if !f.Fail(err) {
		return err
	}
	return p.renderSession(c, see(err), nil, f)
}

// visiblePlaces reports which of the places' clients the actor may see,
// reading nothing of them (Clients.VisibleAmong).
func (p *Pages) visiblePlaces(c *fiber.Ctx, places []training.Enrollment) (map[int64]bool, error) {
	ids := make([]int64, len(places))
	for i, e := range places {
		ids[i] = e.ClientID
	}
	return p.svc.Clients.VisibleAmong(c.UserContext(), Actor(c), ids)
}

// ---- Scheduling and editing a session ----

func sessionForm() *Form {
	return NewForm("title", "Title", "topic", "Topic", "language", "Language", "location", "Place",
		"starts_at", "Starts", "ends_at", "Ends", "capacity", "Seats", "instructor", "Instructor", "notes", "Notes")
}

// localLayout is how a datetime-local field writes a moment.
const localLayout = "2006-01-02T15:04"

func (p *Pages) newSessionForm(c *fiber.Ctx) error {
	f := sessionForm()
	f.Values["language"], f.Values["capacity"] = "en", "12"
	return p.render(c, fiber.StatusOK, "training-form", "Schedule a session", f, nil)
}

func (p *Pages) editSessionForm(c *fiber.Ctx) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	ss, err := p.svc.Training.Session(c.UserContext(), id)
	if err != nil {
		return err
	}
	f := sessionForm()
	zone := calendar.Zone(p.svc.Training.Location)
	v := f.Values
	v["title"], v["topic"], v["language"], v["location"], v["instructor"], v["notes"] = ss.Title, ss.Topic, ss.Language, ss.Location, ss.Instructor, ss.Notes
	v["starts_at"], v["ends_at"] = ss.StartsAt.In(zone).Format(localLayout), ss.EndsAt.In(zone).Format(localLayout)
	v["capacity"] = strconv.Itoa(ss.Capacity)
	return p.render(c, fiber.StatusOK, "training-form", "Edit "+ss.Title, f, ss)
}

// sessionInput reads the posted session form into the API's input; times
// are typed in the agency's zone.
func (p *Pages) sessionInput(c *fiber.Ctx, f *Form) (training.SessionInput, error) {
	for _, name := range f.Order {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	v := f.Values
	str := func(name string) *string { s := v[name]; return &s }
	in := training.SessionInput{Title: str("title"), Topic: str("topic"), Language: str("language"), Location: str("location"),
		Instructor: str("instructor"), Notes: str("notes")}
	var bad apperr.Fields
	zone := calendar.Zone(p.svc.Training.Location)
	for name, dst := range map[string]**calendar.Time{"starts_at": &in.StartsAt, "ends_at": &in.EndsAt} {
		if v[name] == "" {
			bad.Add(name, "is required")
			continue
		}
		t, err := time.ParseInLocation(localLayout, v[name], zone)
		if err != nil {
			bad.Add(name, "must be a date and time, such as 2026-04-02 17:30")
			continue
		}
		ct := calendar.TimeOf(t)
		*dst = &ct
	}
	if n, err := strconv.Atoi(v["capacity"]); err != nil {
		bad.Add("capacity", "must be a whole number from 1 to "+strconv.Itoa(training.MaxCapacity))
	} else {
		in.Capacity = &n
	}
	return in, bad.Err()
}

func (p *Pages) createSession(c *fiber.Ctx) error {
	f := sessionForm()
	in, perr := p.sessionInput(c, f)
	// A field the form could not read is left out of in, which the
	// service then refuses too (times and seats are required): so it
	// checks the rest and saves nothing, and the form's own words win.
	// A session has no number of its own to be told apart by: the same
	// form sent again (back and send, a second click) would schedule it
	// twice, so the same title, place and times already scheduled are
	// refused in place.
	if perr == nil {
		if same, err := p.scheduledAlready(c, in); err != nil {
			return err
		} else if same != 0 {
			perr = apperr.New(apperr.Conflict, "this session is scheduled already (session %d): nothing was scheduled again", same)
		}
	}
	var ss *training.Session
	var err error
	if perr == nil || apperr.CodeOf(perr) == apperr.Invalid {
		ss, err = p.svc.Training.CreateSession(c.UserContext(), Actor(c), in)
	}
	if err == nil && perr == nil {
		return c.Redirect("/training/"+strconv.FormatInt(ss.ID, 10), fiber.StatusSeeOther)
	}
	err = apperr.Join(perr, err)
	if !f.Fail(err) {
		return err
	}
	return p.render(c, see(err), "training-form", "Schedule a session", f, nil)
}

// scheduledAlready is the id of a scheduled session with the title,
// place and times of in; 0 if none.
func (p *Pages) scheduledAlready(c *fiber.Ctx, in training.SessionInput) (int64, error) {
	if in.StartsAt == nil || in.EndsAt == nil || in.Title == nil || in.Location == nil {
		return 0, nil
	}
	start := in.StartsAt.Time()
	list, _, err := p.svc.Training.Sessions(c.UserContext(), training.SessionFilter{From: start, To: start.Add(time.Second)},
		storage.Page{Limit: storage.MaxPageLimit})
	if err != nil {
		return 0, err
	}
	for _, ss := range list {
		if ss.StartsAt.Equal(start) && ss.EndsAt.Equal(in.EndsAt.Time()) && ss.Title == *in.Title && ss.Location == *in.Location {
			return ss.ID, nil
		}
	}
	return 0, nil
}

func (p *Pages) updateSession(c *fiber.Ctx) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	ss, err := p.svc.Training.Session(c.UserContext(), id)
	if err != nil {
		return err
	}
	f := sessionForm()
	in, err := p.sessionInput(c, f)
	if err == nil {
		if _, err = p.svc.Training.UpdateSession(c.UserContext(), Actor(c), id, in); err == nil {
			return c.Redirect("/training/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
		}
	}
	if !f.Fail(err) {
		return err
	}
	return p.render(c, see(err), "training-form", "Edit "+ss.Title, f, ss)
}

// cancelSession cancels the session and every place in it; cancelling it
// again is refused (409), changing nothing.
func (p *Pages) cancelSession(c *fiber.Ctx) error {
	id, err := pageID(c, "session")
	if err != nil {
		return err
	}
	if _, err := p.svc.Training.CancelSession(c.UserContext(), Actor(c), id); err != nil {
		return err
	}
	return c.Redirect("/training/"+strconv.FormatInt(id, 10), fiber.StatusSeeOther)
}
