// Package audit is the append-only record of every state change: who did
// what to which record, when, and what changed. Events are written in the
// same transaction as the change they describe, so one never exists without
// the other.
package audit

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/devicebank/devicebank/storage"
)

// Event is one recorded change (or, for client records, one read).
type Event struct {
	bun.BaseModel `bun:"table:audit_events,alias:ev"`

	ID          int64     `bun:"id,pk,autoincrement" json:"id"`
	OccurredAt  time.Time `bun:"occurred_at" json:"occurred_at"`
	ActorID     *int64    `bun:"actor_id" json:"actor_id"`
	ActorName   string    `bun:"actor_name,scanonly" json:"actor_name"`
	Action      string    `bun:"action" json:"action"`
	SubjectType string    `bun:"subject_type" json:"subject_type"`
	SubjectID   int64     `bun:"subject_id" json:"subject_id"`
	// Related records, so that the history of a device or of a client
	// includes the loans that touched it.
	ClientID *int64 `bun:"client_id" json:"client_id,omitempty"`
	DeviceID *int64 `bun:"device_id" json:"device_id,omitempty"`
	LoanID   *int64 `bun:"loan_id" json:"loan_id,omitempty"`
	// Changes is a JSON object: for an edit {"field": {"from": x, "to": y}},
	// for a creation or a transition the values that were set.
	Changes json.RawMessage `bun:"changes,type:text" json:"changes"`
}

// Change describes one field that changed.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// Record writes ev inside tx. changes is marshalled to JSON; nil means {}.
func Record(ctx context.Context, tx bun.IDB, ev Event, changes any) error {
	if changes == nil {
		ev.Changes = json.RawMessage("{}")
	} else {
		b, err := json.Marshal(changes)
		if err != nil {
			return err
		}
		ev.Changes = b
	}
	_, err := recordEvent.Exec(ctx, tx, func(p storage.Param) storage.Query {
		return tx.NewRaw("INSERT INTO audit_events (occurred_at, actor_id, action, subject_type, subject_id, client_id, device_id, loan_id, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8))
	}, ev.OccurredAt.UTC(), ev.ActorID, ev.Action, ev.SubjectType, ev.SubjectID, ev.ClientID, ev.DeviceID, ev.LoanID, string(ev.Changes))
	return storage.Err(err, "audit event")
}

// recordEvent is Record's insert: every change writes one.
var recordEvent storage.HotQuery

// Filter selects the history of one device or one client.
type Filter struct {
	DeviceID int64
	ClientID int64
}

// List returns the events matching f, oldest first, with the actor's name.
func List(ctx context.Context, db bun.IDB, f Filter, page storage.Page) ([]Event, int, error) {
	events := []Event{}
	total, err := page.Apply(selectEvents(db, &events, f)).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "history")
	}
	return events, int(total), nil
}

// All returns every event matching f, oldest first, with the actor's name:
// List without pages, for a client's export.
func All(ctx context.Context, db bun.IDB, f Filter) ([]Event, error) {
	events := []Event{}
	if err := selectEvents(db, &events, f).Scan(ctx); err != nil {
		return nil, storage.Err(err, "history")
	}
	return events, nil
}

func selectEvents(db bun.IDB, events *[]Event, f Filter) *bun.SelectQuery {
	q := db.NewSelect().Model(events).
		Column("id", "occurred_at", "actor_id", "action", "subject_type", "subject_id", "client_id", "device_id", "loan_id", "changes").
		ColumnExpr("COALESCE(u.name, 'system') AS actor_name").
		Join("LEFT JOIN users AS u ON u.id = ev.actor_id").
		OrderExpr("ev.id ASC")
	if f.DeviceID != 0 {
		q.Where("ev.device_id = ?", f.DeviceID)
	}
	if f.ClientID != 0 {
		q.Where("ev.client_id = ?", f.ClientID)
	}
	return q
}

// FieldsChanged names the fields whose values differ between before and
// after, sorted: what an event about a record of personal data keeps of a
// change (the values stay out of the trail: docs/privacy.md).
func FieldsChanged(before, after map[string]any) []string {
	return slices.Sorted(maps.Keys(Diff(before, after)))
}

// FieldsGiven names the fields of values that hold something (not null,
// "", [] or false; 0 is a value given, such as a disclosed income of
// nothing), sorted: what the creation of a record of personal data keeps.
func FieldsGiven(values map[string]any) []string {
	out := []string{}
	for k, v := range values {
		switch b, _ := json.Marshal(v); string(b) {
		case "null", `""`, "[]", "false":
		default:
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Diff returns the fields whose values differ between before and after, as
// {"field": {"from", "to"}}. Keys are the API's field names.
func Diff(before, after map[string]any) map[string]Change {
	out := map[string]Change{}
	for k, a := range after {
		b := before[k]
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		if string(bj) != string(aj) {
			out[k] = Change{From: b, To: a}
		}
	}
	return out
}

// listActions are the events of list reads: each names the clients it
// showed in client_ids, and no one client (client_id is null), so that a
// list of 500 costs one row.
var listActions = []string{"client.listed", "request.listed", "waitlist.viewed"}

// ListedWith returns every list read that showed the client, oldest first,
// with the actor's name: for a client's export (who saw them in a list,
// and when). Each event's changes are left out ({}): they name the other
// records the list showed, which the client's export must not carry.
func ListedWith(ctx context.Context, db bun.IDB, clientID int64) ([]Event, error) {
	events := []Event{}
	q := selectEvents(db, &events, Filter{}).Where("ev.client_id IS NULL AND ev.action IN (?)", bun.In(listActions))
	if db.Dialect().Name() == dialect.PG {
		q.Where("ev.changes::jsonb -> 'client_ids' @> to_jsonb(?::bigint)", clientID)
	} else {
		q.Where("EXISTS (SELECT 1 FROM json_each(ev.changes, '$.client_ids') WHERE value = ?)", clientID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, storage.Err(err, "history")
	}
	for i := range events {
		events[i].Changes = json.RawMessage("{}")
	}
	return events, nil
}
