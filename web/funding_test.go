package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/funding"
)

// fundingSource has an admin add a funding source called name and
// returns its id.
func (e *env) fundingSource(admin, name string) int64 {
	e.t.Helper()
	return e.must(201, admin, "POST", v1+"/funding-sources", map[string]any{"name": name}).ID(e.t)
}

// events are the audit events about one record, oldest first.
func (e *env) events(subjectType string, id int64) []audit.Event {
	e.t.Helper()
	var out []audit.Event
	if err := e.db.NewSelect().Model(&out).Where("subject_type = ? AND subject_id = ?", subjectType, id).
		Order("id").Scan(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// changesOf decodes an event's changes.
func changesOf(t *testing.T, ev audit.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Changes, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFundingSourcesCRUD(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		adminID, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)

		in := map[string]any{"name": "  City Digital Equity Grant ", "funder_organization": "City of Springfield",
			"grant_reference": "DEG-2026-014", "grant_starts_on": "2026-01-01", "grant_ends_on": "2027-12-31",
			"notes": "Laptops and hotspots only."}
		r := e.must(201, admin, "POST", v1+"/funding-sources", in)
		src := r.JSON(t)
		id := r.ID(t)
		if got := r.Header.Get("Location"); got != path(v1+"/funding-sources/%d", id) {
			t.Errorf("Location %q", got)
		}
		want := map[string]any{"name": "City Digital Equity Grant", "funder_organization": "City of Springfield",
			"grant_reference": "DEG-2026-014", "grant_starts_on": "2026-01-01", "grant_ends_on": "2027-12-31",
			"notes": "Laptops and hotspots only."}
		for k, v := range want {
			if src[k] != v {
				t.Errorf("created %s = %v, want %v", k, src[k], v)
			}
		}
		sameExcept(t, src, e.must(200, co, "GET", path(v1+"/funding-sources/%d", id), nil).JSON(t))
		evs := e.events("funding_source", id)
		if len(evs) != 1 || evs[0].Action != "funding_source.created" || evs[0].ActorID == nil || *evs[0].ActorID != adminID {
			t.Fatalf("events after create: %+v", evs)
		}
		if c := changesOf(t, evs[0]); c["name"] != "City Digital Equity Grant" || c["grant_reference"] != "DEG-2026-014" {
			t.Errorf("created event changes: %v", c)
		}

		// Optional fields may be left out; the list is by name, ignoring
		// case and accents alike on both databases.
		other := e.must(201, admin, "POST", v1+"/funding-sources", map[string]any{"name": "anchor foundation"}).JSON(t)
		if other["grant_starts_on"] != nil || other["grant_ends_on"] != nil || other["funder_organization"] != "" {
			t.Errorf("a source with a name only: %v", other)
		}
		accented := e.fundingSource(admin, "Ámbito Trust")
		ids := listIDs(t, e.must(200, co, "GET", v1+"/funding-sources", nil))
		if fmt.Sprint(ids) != fmt.Sprint([]int64{accented, int64(other["id"].(float64)), id}) {
			t.Errorf("list order %v", ids)
		}

		// An update changes what is sent, and is recorded with from and to.
		upd := e.must(200, admin, "PATCH", path(v1+"/funding-sources/%d", id),
			map[string]any{"grant_ends_on": nil, "notes": "Any device."}).JSON(t)
		if upd["grant_ends_on"] != nil || upd["notes"] != "Any device." || upd["grant_starts_on"] != "2026-01-01" {
			t.Errorf("updated: %v", upd)
		}
		sameExcept(t, src, upd, "grant_ends_on", "notes", "updated_at")
		evs = e.events("funding_source", id)
		if len(evs) != 2 || evs[1].Action != "funding_source.updated" {
			t.Fatalf("events after update: %+v", evs)
		}
		if c, _ := json.Marshal(changesOf(t, evs[1])); string(c) != `{"grant_ends_on":{"from":"2027-12-31","to":null},"notes":{"from":"Laptops and hotspots only.","to":"Any device."}}` {
			t.Errorf("updated event changes: %s", c)
		}
		// The same values again: nothing recorded.
		e.must(200, admin, "PATCH", path(v1+"/funding-sources/%d", id), map[string]any{"notes": "Any device."})
		if n := len(e.events("funding_source", id)); n != 2 {
			t.Errorf("%d events after an update that changed nothing, want 2", n)
		}

		e.must(404, admin, "GET", v1+"/funding-sources/999999", nil)
		e.must(404, admin, "PATCH", v1+"/funding-sources/999999", map[string]any{"notes": "x"})
	})
}

// Every bad input is a 422 naming the field, and writes nothing.
func TestFundingSourceValidation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		id := e.fundingSource(admin, "State broadband fund")
		before := e.must(200, admin, "GET", path(v1+"/funding-sources/%d", id), nil).JSON(t)

		cases := []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{}, "name"},
			{map[string]any{"name": "   "}, "name"},
			{map[string]any{"name": strings.Repeat("n", funding.MaxNameLength+1)}, "name"},
			{map[string]any{"name": "X", "funder_organization": strings.Repeat("f", funding.MaxFunderLength+1)}, "funder_organization"},
			{map[string]any{"name": "X", "grant_reference": strings.Repeat("r", funding.MaxReferenceLength+1)}, "grant_reference"},
			{map[string]any{"name": "X", "notes": strings.Repeat("é", funding.MaxNotesLength+1)}, "notes"},
			{map[string]any{"name": "X", "grant_starts_on": "2026-02-30"}, "grant_starts_on"},
			{map[string]any{"name": "X", "grant_ends_on": "next year"}, "grant_ends_on"},
			{map[string]any{"name": "X", "grant_starts_on": "2026-06-01", "grant_ends_on": "2026-05-31"}, "grant_ends_on"},
			{map[string]any{"name": "X", "colour": "green"}, "colour"},
		}
		for _, c := range cases {
			r := e.must(422, admin, "POST", v1+"/funding-sources", c.body)
			if _, ok := r.ErrorFields(t)[c.field]; !ok {
				t.Errorf("POST %v: 422 without %s: %s", c.body, c.field, r.Body)
			}
			if c.field == "name" && len(c.body) == 0 {
				continue // an empty body is no update
			}
			r = e.must(422, admin, "PATCH", path(v1+"/funding-sources/%d", id), c.body)
			if _, ok := r.ErrorFields(t)[c.field]; !ok {
				t.Errorf("PATCH %v: 422 without %s: %s", c.body, c.field, r.Body)
			}
		}
		// An end before a start already stored is refused too.
		e.must(200, admin, "PATCH", path(v1+"/funding-sources/%d", id), map[string]any{"grant_starts_on": "2026-01-01"})
		before = e.must(200, admin, "GET", path(v1+"/funding-sources/%d", id), nil).JSON(t)
		r := e.must(422, admin, "PATCH", path(v1+"/funding-sources/%d", id), map[string]any{"grant_ends_on": "2025-12-31"})
		if _, ok := r.ErrorFields(t)["grant_ends_on"]; !ok {
			t.Errorf("an end before the stored start: %s", r.Body)
		}

		if total := e.must(200, admin, "GET", v1+"/funding-sources", nil).JSON(t)["total"]; total != 1.0 {
			t.Errorf("%v funding sources after refused creates, want 1", total)
		}
		sameExcept(t, before, e.must(200, admin, "GET", path(v1+"/funding-sources/%d", id), nil).JSON(t))
		if n := len(e.events("funding_source", id)); n != 2 {
			t.Errorf("%d events, want 2 (created, the start date set)", n)
		}
	})
}

// Names are unique ignoring case and surrounding space, on create and on
// update; two creates of one name at once make one source.
func TestFundingSourceNamesAreUnique(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		first := e.fundingSource(admin, "Ángel Foundation")
		for _, name := range []string{"Ángel Foundation", "ÁNGEL FOUNDATION", " ángel foundation "} {
			r := e.must(409, admin, "POST", v1+"/funding-sources", map[string]any{"name": name})
			if _, ok := r.ErrorFields(t)["name"]; !ok || r.ErrorCode(t) != "conflict" {
				t.Errorf("duplicate %q: %s", name, r.Body)
			}
		}
		second := e.fundingSource(admin, "Angel Foundation") // another letter: another name
		r := e.must(409, admin, "PATCH", path(v1+"/funding-sources/%d", second), map[string]any{"name": "ángel FOUNDATION"})
		if _, ok := r.ErrorFields(t)["name"]; !ok {
			t.Errorf("renamed to a taken name: %s", r.Body)
		}
		// A source may change the case of its own name.
		if got := e.must(200, admin, "PATCH", path(v1+"/funding-sources/%d", first), map[string]any{"name": "ÁNGEL Foundation"}).JSON(t)["name"]; got != "ÁNGEL Foundation" {
			t.Errorf("renamed to %v", got)
		}

		const racers = 8
		var wg sync.WaitGroup
		statuses := make([]int, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "Race Fund"
				if i%2 == 1 {
					name = "race fund"
				}
				statuses[i] = e.do(admin, "POST", v1+"/funding-sources", map[string]any{"name": name}).Status
			}()
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("concurrent create answered %d", s)
			}
		}
		if created != 1 {
			t.Errorf("%d of %d concurrent creates of one name succeeded, want 1: %v", created, racers, statuses)
		}
		if total := e.must(200, admin, "GET", v1+"/funding-sources", nil).JSON(t)["total"]; total != 3.0 {
			t.Errorf("%v sources, want 3", total)
		}
	})
}

func TestDeviceFundingSource(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		city := e.fundingSource(admin, "City Grant")
		state := e.fundingSource(admin, "State Fund")

		d := e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": "laptop", "make": "Acme", "model": "L",
			"funding_source_id": city}).JSON(t)
		id := int64(d["id"].(float64))
		if d["funding_source_id"] != float64(city) || d["funding_source"] != "City Grant" {
			t.Fatalf("device with a source: %v", d)
		}
		got := e.must(200, sw, "GET", path(v1+"/devices/%d", id), nil).JSON(t)
		if got["funding_source_id"] != float64(city) || got["funding_source"] != "City Grant" {
			t.Errorf("device read back: %v", got)
		}
		none := e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": "laptop", "make": "Acme", "model": "L"}).JSON(t)
		if none["funding_source_id"] != nil || none["funding_source"] != "" {
			t.Errorf("device without a source: %v", none)
		}

		// A name, as scripts sent before sources were records: it names
		// the source it is (ignoring case).
		byName := e.must(201, co, "POST", v1+"/devices", map[string]any{"kind": "phone", "make": "Acme", "model": "P",
			"funding_source": "  state fund"}).JSON(t)
		if byName["funding_source_id"] != float64(state) || byName["funding_source"] != "State Fund" {
			t.Errorf("device by source name: %v", byName)
		}

		// Unknown ids and names, and an id and a name that disagree, are
		// refused naming the field, and nothing is written.
		total := e.must(200, co, "GET", v1+"/devices", nil).JSON(t)["total"]
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"funding_source_id": 999999}, "funding_source_id"},
			{map[string]any{"funding_source_id": "one"}, "funding_source_id"},
			{map[string]any{"funding_source": "Lottery"}, "funding_source"},
			{map[string]any{"funding_source": strings.Repeat("x", 201)}, "funding_source"},
			{map[string]any{"funding_source_id": city, "funding_source": "State Fund"}, "funding_source"},
			{map[string]any{"funding_source_id": nil, "funding_source": "State Fund"}, "funding_source"},
		} {
			body := map[string]any{"kind": "tablet", "make": "Acme", "model": "T"}
			for k, v := range c.body {
				body[k] = v
			}
			r := e.must(422, co, "POST", v1+"/devices", body)
			if _, ok := r.ErrorFields(t)[c.field]; !ok {
				t.Errorf("POST device %v: 422 without %s: %s", c.body, c.field, r.Body)
			}
			r = e.must(422, co, "PATCH", path(v1+"/devices/%d", id), c.body)
			if _, ok := r.ErrorFields(t)[c.field]; !ok {
				t.Errorf("PATCH device %v: 422 without %s: %s", c.body, c.field, r.Body)
			}
		}
		if got := e.must(200, co, "GET", v1+"/devices", nil).JSON(t)["total"]; got != total {
			t.Errorf("%v devices after refused creates, want %v", got, total)
		}
		if got := e.must(200, co, "GET", path(v1+"/devices/%d", id), nil).JSON(t); got["funding_source_id"] != float64(city) {
			t.Errorf("device after refused patches: %v", got)
		}

		// A patch moves the device to another source (recorded by id), or
		// to none with null or an empty name; an id and its own name agree.
		hist := path(v1+"/devices/%d/history", id)
		moved := e.must(200, co, "PATCH", path(v1+"/devices/%d", id), map[string]any{"funding_source_id": state, "funding_source": "STATE FUND"}).JSON(t)
		if moved["funding_source_id"] != float64(state) || moved["funding_source"] != "State Fund" {
			t.Errorf("moved device: %v", moved)
		}
		events := e.historyAt(co, hist)
		expectChanges(t, events[len(events)-1], map[string][2]any{"funding_source_id": {float64(city), float64(state)}})
		for _, clear := range []map[string]any{{"funding_source_id": nil}, {"funding_source": ""}} {
			e.must(200, co, "PATCH", path(v1+"/devices/%d", id), map[string]any{"funding_source_id": city})
			cleared := e.must(200, co, "PATCH", path(v1+"/devices/%d", id), clear).JSON(t)
			if cleared["funding_source_id"] != nil || cleared["funding_source"] != "" {
				t.Errorf("device cleared with %v: %v", clear, cleared)
			}
		}
		e.must(200, co, "PATCH", path(v1+"/devices/%d", id), map[string]any{"funding_source_id": city})

		// A source renamed is renamed on its devices.
		e.must(200, admin, "PATCH", path(v1+"/funding-sources/%d", city), map[string]any{"name": "City Digital Equity Grant"})
		if got := e.must(200, co, "GET", path(v1+"/devices/%d", id), nil).JSON(t)["funding_source"]; got != "City Digital Equity Grant" {
			t.Errorf("device's source after a rename: %v", got)
		}

		// The list filters by source.
		ids := listIDs(t, e.must(200, sw, "GET", path(v1+"/devices?funding_source_id=%d", city), nil))
		if fmt.Sprint(ids) != fmt.Sprint([]int64{id}) {
			t.Errorf("devices of the city grant: %v, want [%d]", ids, id)
		}
		list := e.must(200, sw, "GET", path(v1+"/devices?funding_source_id=%d", city), nil).JSON(t)
		if item := list["items"].([]any)[0].(map[string]any); item["funding_source"] != "City Digital Equity Grant" {
			t.Errorf("listed device: %v", item)
		}
		if ids := listIDs(t, e.must(200, sw, "GET", path(v1+"/devices?funding_source_id=%d", state), nil)); fmt.Sprint(ids) != fmt.Sprint([]int64{int64(byName["id"].(float64))}) {
			t.Errorf("devices of the state fund: %v", ids)
		}
		r := e.must(422, co, "GET", v1+"/devices?funding_source_id=x", nil)
		if _, ok := r.ErrorFields(t)["funding_source_id"]; !ok {
			t.Errorf("a bad filter: %s", r.Body)
		}
	})
}

func TestDataPlanFundingSource(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		fund := e.fundingSource(admin, "Connectivity Fund")
		plan := map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0101", "starts_on": "2026-01-01",
			"funding_source_id": fund}
		p := e.must(201, co, "POST", v1+"/data-plans", plan).JSON(t)
		id := int64(p["id"].(float64))
		if p["funding_source_id"] != float64(fund) {
			t.Fatalf("plan: %v", p)
		}
		if got := e.must(200, co, "GET", path(v1+"/data-plans/%d", id), nil).JSON(t)["funding_source_id"]; got != float64(fund) {
			t.Errorf("plan read back: %v", got)
		}
		other := e.must(201, co, "POST", v1+"/data-plans", map[string]any{"carrier": "Mint", "line_number": "+1 312 555 0102",
			"starts_on": "2026-01-01"}).JSON(t)
		if other["funding_source_id"] != nil {
			t.Errorf("plan without a source: %v", other)
		}

		plan["line_number"] = "+1 312 555 0103"
		plan["funding_source_id"] = 999999
		r := e.must(422, co, "POST", v1+"/data-plans", plan)
		if _, ok := r.ErrorFields(t)["funding_source_id"]; !ok {
			t.Errorf("unknown source: %s", r.Body)
		}
		r = e.must(422, co, "PATCH", path(v1+"/data-plans/%d", id), map[string]any{"funding_source_id": 999999})
		if _, ok := r.ErrorFields(t)["funding_source_id"]; !ok {
			t.Errorf("unknown source on a patch: %s", r.Body)
		}
		if total := e.must(200, co, "GET", v1+"/data-plans", nil).JSON(t)["total"]; total != 2.0 {
			t.Errorf("%v plans, want 2", total)
		}
		if ids := listIDs(t, e.must(200, co, "GET", path(v1+"/data-plans?funding_source_id=%d", fund), nil)); fmt.Sprint(ids) != fmt.Sprint([]int64{id}) {
			t.Errorf("plans of the fund: %v", ids)
		}

		cleared := e.must(200, co, "PATCH", path(v1+"/data-plans/%d", id), map[string]any{"funding_source_id": nil}).JSON(t)
		if cleared["funding_source_id"] != nil {
			t.Errorf("cleared plan: %v", cleared)
		}
		evs := e.events("data_plan", id)
		if c, _ := json.Marshal(changesOf(t, evs[len(evs)-1])); string(c) != fmt.Sprintf(`{"funding_source_id":{"from":%d,"to":null}}`, fund) {
			t.Errorf("plan event changes: %s", c)
		}
	})
}

// An admin links a funder to funding sources; the funder then sees those
// only, and reports will count theirs only (funding.Service.ScopeOf).
func TestFunderLinks(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		adminID, admin := e.user(accounts.Admin)
		coID, _ := e.user(accounts.Coordinator)
		funderID, funder := e.user(accounts.Funder)
		_, otherFunder := e.user(accounts.Funder)
		a, b, c := e.fundingSource(admin, "A Fund"), e.fundingSource(admin, "B Fund"), e.fundingSource(admin, "C Fund")
		user := path(v1+"/users/%d", funderID)

		// A funder linked to none sees none.
		if ids, ok := e.must(200, admin, "GET", user, nil).JSON(t)["funding_source_ids"].([]any); !ok || len(ids) != 0 {
			t.Errorf("a new funder's funding_source_ids: %v", e.must(200, admin, "GET", user, nil).JSON(t))
		}
		if total := e.must(200, funder, "GET", v1+"/funding-sources", nil).JSON(t)["total"]; total != 0.0 {
			t.Errorf("a funder linked to none sees %v sources", total)
		}
		e.must(404, funder, "GET", path(v1+"/funding-sources/%d", a), nil)
		scope := func(actor *accounts.Actor) funding.Scope {
			t.Helper()
			s, err := e.svc.Funding.ScopeOf(context.Background(), actor)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if s := scope(&accounts.Actor{ID: funderID, Role: accounts.Funder}); s.All || s.IDs == nil || len(s.IDs) != 0 {
			t.Errorf("scope of a funder linked to none: %+v", s)
		}

		// Linked (repeats count once, order does not matter), and recorded.
		got := e.must(200, admin, "PATCH", user, map[string]any{"funding_source_ids": []int64{c, a, c}}).JSON(t)
		if fmt.Sprint(got["funding_source_ids"]) != fmt.Sprint([]any{float64(a), float64(c)}) {
			t.Errorf("linked: %v", got)
		}
		evs := e.events("user", funderID)
		last := evs[len(evs)-1]
		if ch, _ := json.Marshal(changesOf(t, last)); last.Action != "user.updated" || *last.ActorID != adminID ||
			string(ch) != fmt.Sprintf(`{"funding_source_ids":{"from":[],"to":[%d,%d]}}`, a, c) {
			t.Errorf("link event: %s %s", last.Action, ch)
		}
		if me := e.must(200, funder, "GET", v1+"/me", nil).JSON(t); fmt.Sprint(me["funding_source_ids"]) != fmt.Sprint([]any{float64(a), float64(c)}) {
			t.Errorf("GET /me of a funder: %v", me)
		}
		if ids := listIDs(t, e.must(200, funder, "GET", v1+"/funding-sources", nil)); fmt.Sprint(ids) != fmt.Sprint([]int64{a, c}) {
			t.Errorf("the funder's sources: %v", ids)
		}
		e.must(200, funder, "GET", path(v1+"/funding-sources/%d", a), nil)
		// Another's source answers as one that does not exist.
		notTheirs := e.must(404, funder, "GET", path(v1+"/funding-sources/%d", b), nil)
		missing := e.must(404, funder, "GET", v1+"/funding-sources/999999", nil)
		if string(notTheirs.Body) != string(missing.Body) {
			t.Errorf("another's source %s, a missing one %s", notTheirs.Body, missing.Body)
		}
		e.must(404, otherFunder, "GET", path(v1+"/funding-sources/%d", a), nil)
		if s := scope(&accounts.Actor{ID: funderID, Role: accounts.Funder}); s.All || fmt.Sprint(s.IDs) != fmt.Sprint([]int64{a, c}) {
			t.Errorf("scope of the funder: %+v", s)
		}
		if s := scope(&accounts.Actor{ID: coID, Role: accounts.Coordinator}); !s.All {
			t.Errorf("scope of a coordinator: %+v", s)
		}
		if s := scope(&accounts.Actor{ID: 1, Role: accounts.SocialWorker}); s.All || len(s.IDs) != 0 {
			t.Errorf("scope of a social worker: %+v", s)
		}
		// The users list shows a funder's links, and no field for others.
		for _, it := range e.must(200, admin, "GET", v1+"/users?limit=500", nil).JSON(t)["items"].([]any) {
			u := it.(map[string]any)
			_, has := u["funding_source_ids"]
			if has != (u["role"] == "funder") {
				t.Errorf("listed user %v", u)
			}
		}

		// Refused, naming the field, changing nothing: unknown ids, a user
		// who is not a funder, a body that is not a list of ids.
		before := e.must(200, admin, "GET", user, nil).JSON(t)
		nEvents := len(e.events("user", funderID))
		for _, bad := range []struct {
			who  string
			body map[string]any
		}{
			{user, map[string]any{"funding_source_ids": []int64{a, 999998, 999999}}},
			{user, map[string]any{"funding_source_ids": []int64{a}, "role": "coordinator"}},
			{user, map[string]any{"funding_source_ids": "A Fund"}},
			{user, map[string]any{"funding_source_ids": []int64{a}, "name": ""}},
			{path(v1+"/users/%d", coID), map[string]any{"funding_source_ids": []int64{a}}},
			{path(v1+"/users/%d", coID), map[string]any{"funding_source_ids": []int64{}}},
		} {
			r := e.must(422, admin, "PATCH", bad.who, bad.body)
			if _, ok := r.ErrorFields(t)["funding_source_ids"]; !ok && bad.body["name"] == nil {
				t.Errorf("PATCH %s %v: 422 without funding_source_ids: %s", bad.who, bad.body, r.Body)
			}
		}
		if r := e.must(422, admin, "PATCH", user, map[string]any{"funding_source_ids": []int64{999999}}); !strings.Contains(string(r.Body), "999999") {
			t.Errorf("an unknown id is not named: %s", r.Body)
		}
		sameExcept(t, before, e.must(200, admin, "GET", user, nil).JSON(t))
		if n := len(e.events("user", funderID)); n != nEvents {
			t.Errorf("%d events after refused patches, want %d", n, nEvents)
		}
		if got := e.must(200, admin, "GET", path(v1+"/users/%d", coID), nil).JSON(t); got["funding_source_ids"] != nil {
			t.Errorf("a coordinator with funding_source_ids: %v", got)
		}

		// An empty list unlinks all.
		if got := e.must(200, admin, "PATCH", user, map[string]any{"funding_source_ids": []int64{}}).JSON(t)["funding_source_ids"]; !reflect.DeepEqual(got, []any{}) {
			t.Errorf("unlinked: %v", got)
		}
		e.must(404, funder, "GET", path(v1+"/funding-sources/%d", a), nil)

		// A funder who takes another role loses their links; a user made a
		// funder may be linked in the same request.
		e.must(200, admin, "PATCH", user, map[string]any{"funding_source_ids": []int64{b}})
		moved := e.must(200, admin, "PATCH", user, map[string]any{"role": "coordinator"}).JSON(t)
		if _, has := moved["funding_source_ids"]; has {
			t.Errorf("a former funder: %v", moved)
		}
		back := e.must(200, admin, "PATCH", user, map[string]any{"role": "funder"}).JSON(t)
		if !reflect.DeepEqual(back["funding_source_ids"], []any{}) {
			t.Errorf("a funder again keeps old links: %v", back)
		}
		made := e.must(200, admin, "PATCH", path(v1+"/users/%d", coID), map[string]any{"role": "funder", "funding_source_ids": []int64{b}}).JSON(t)
		if !reflect.DeepEqual(made["funding_source_ids"], []any{float64(b)}) {
			t.Errorf("made a funder and linked: %v", made)
		}
	})
}

// Coordinators read funding sources to choose one; social workers do not.
func TestFundingSourceReaders(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		id := e.fundingSource(admin, "Read Fund")
		e.must(200, co, "GET", path(v1+"/funding-sources/%d", id), nil)
		e.must(403, sw, "GET", path(v1+"/funding-sources/%d", id), nil)
		e.must(403, co, "POST", v1+"/funding-sources", map[string]any{"name": "Coordinator's own"})
		e.must(403, co, "PATCH", path(v1+"/funding-sources/%d", id), map[string]any{"name": "Renamed"})
		q := url.Values{"funding_source_id": {fmt.Sprint(id)}}
		e.must(403, sw, "GET", v1+"/data-plans?"+q.Encode(), nil)
	})
}

// Admins linking one funder at the same moment: each change replaces the
// whole set in turn (the user's row is locked), so the funder ends with one
// of the sets sent, never a mixture, and the last event says which.
func TestFunderLinksConcurrently(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, admin := e.user(accounts.Admin)
		funderID, _ := e.user(accounts.Funder)
		a, b, c := e.fundingSource(admin, "A Fund"), e.fundingSource(admin, "B Fund"), e.fundingSource(admin, "C Fund")
		sets := [][]int64{{a}, {b, c}, {a, c}, {c}, {a, b, c}, {}}
		var wg sync.WaitGroup
		statuses := make([]int, len(sets))
		for i, set := range sets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.do(admin, "PATCH", path(v1+"/users/%d", funderID), map[string]any{"funding_source_ids": set}).Status
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			if s != 200 {
				t.Errorf("linking %v answered %d", sets[i], s)
			}
		}
		final := fmt.Sprint(e.must(200, admin, "GET", path(v1+"/users/%d", funderID), nil).JSON(t)["funding_source_ids"])
		found := false
		for _, set := range sets {
			want := make([]any, len(set))
			for i, id := range set {
				want[i] = float64(id)
			}
			found = found || fmt.Sprint(want) == final
		}
		if !found {
			t.Errorf("the funder ends linked to %s, which no request sent", final)
		}
		evs := e.events("user", funderID)
		last := changesOf(t, evs[len(evs)-1])["funding_source_ids"].(map[string]any)
		if fmt.Sprint(last["to"]) != final {
			t.Errorf("the last event links %v, the funder is linked to %s", last["to"], final)
		}
	})
}
