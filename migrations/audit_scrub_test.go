package migrations_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/devicebank/devicebank/migrations"
	"github.com/devicebank/devicebank/storage/dbtest"
)

// Events about clients written before they named fields only keep the
// names, not the values, once migration 0025 ran; other events are left.
func TestOldClientEventsKeepOnlyTheFieldNames(t *testing.T) {
	for _, engine := range dbtest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.OpenURL(t, dbtest.FreshURL(t, engine))
			if _, err := migrations.ApplyBefore(ctx, db, 25); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2025, 3, 4, 15, 0, 0, 0, time.UTC)
			events := []struct{ action, subject, changes, want string }{
				{"client.created", "client", `{"annual_income_cents":0,"first_name":"Ana","last_name":"Silva","programs":["snap"]}`,
					`{"fields":["annual_income_cents","first_name","last_name","programs"]}`},
				{"client.updated", "client", `{"phone":{"from":"3125550101","to":"+13125550101"},"source":"phone_e164"}`,
					`{"fields":["phone"],"source":"phone_e164"}`},
				{"client.updated", "client", `{"postal_code":{"from":"60601","to":""}}`, `{"fields":["postal_code"]}`},
				{"client.updated", "client", `{}`, `{"fields":[]}`},
				// Shapes the service never wrote (a row edited by hand): no
				// value survives, and the upgrade goes through.
				{"client.updated", "client", `null`, `{"fields":[]}`},
				{"client.updated", "client", `["Ana","Silva"]`, `{"fields":[]}`},
				{"client.created", "client", `"Ana Silva"`, `{"fields":[]}`},
				{"client.updated", "client", `{"phone":{"from":"1","to":"2"},"source":null}`, `{"fields":["phone","source"]}`},
				{"client.listed", "client_list", `{"client_ids":[1],"q":"silva","total":1}`, `{"client_ids":[1],"searched":true,"total":1}`},
				{"client.listed", "client_list", `{"client_ids":[],"q":"","total":0}`, `{"client_ids":[],"searched":false,"total":0}`},
				{"client.listed", "client_list", `{"client_ids":[1],"names_only":true,"total":1}`, `{"client_ids":[1],"names_only":true,"total":1}`},
				{"loan.renewed", "loan", `{"due_on":{"from":"2025-04-01","to":"2025-05-01"}}`, `{"due_on":{"from":"2025-04-01","to":"2025-05-01"}}`},
			}
			for i, e := range events {
				if _, err := db.NewRaw("INSERT INTO audit_events (id, occurred_at, action, subject_type, subject_id, changes) VALUES (?, ?, ?, ?, 1, ?)",
					i+1, at, e.action, e.subject, e.changes).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := migrations.Apply(ctx, db); err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := db.NewRaw("SELECT changes FROM audit_events ORDER BY id").Scan(ctx, &got); err != nil {
				t.Fatal(err)
			}
			for i, e := range events {
				if normal(got[i]) != normal(e.want) {
					t.Errorf("%s %s\n  became %s\n  want   %s", e.action, e.changes, got[i], e.want)
				}
			}
		})
	}
}

// normal is a JSON object's text as encoding/json writes it (members in
// name order), since PostgreSQL's jsonb and SQLite write them in orders of
// their own.
func normal(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "not JSON: " + s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
