package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// Settings are the retention policy as an admin reads and sets it, in
// whole days and years (GET and PUT /api/v1/retention/policy).
type Settings struct {
	NotificationTextsDays int `json:"notification_texts_days"`
	SMSRepliesDays        int `json:"sms_replies_days"`
	EndedSessionsDays     int `json:"ended_sessions_days"`
	InactiveClientYears   int `json:"inactive_client_years"`
}

// The bounds of each setting: long enough to do the work that needs the
// records, short enough to mean something.
var bounds = []struct {
	field    string
	min, max int
	value    func(*Settings) *int
}{
	{"notification_texts_days", 1, 3650, func(s *Settings) *int { return &s.NotificationTextsDays }},
	{"sms_replies_days", 1, 3650, func(s *Settings) *int { return &s.SMSRepliesDays }},
	{"ended_sessions_days", 1, 365, func(s *Settings) *int { return &s.EndedSessionsDays }},
	{"inactive_client_years", 1, 50, func(s *Settings) *int { return &s.InactiveClientYears }},
}

// SettingsOf is p in days and years.
func SettingsOf(p Policy) Settings {
	return Settings{NotificationTextsDays: int(p.NotificationTexts / day), SMSRepliesDays: int(p.SMSReplies / day),
		EndedSessionsDays: int(p.EndedSessions / day), InactiveClientYears: int(p.InactiveClients / (365 * day))}
}

// Policy is the policy s sets.
func (s Settings) Policy() Policy {
	return Policy{NotificationTexts: time.Duration(s.NotificationTextsDays) * day, SMSReplies: time.Duration(s.SMSRepliesDays) * day,
		EndedSessions: time.Duration(s.EndedSessionsDays) * day, InactiveClients: time.Duration(s.InactiveClientYears) * 365 * day}
}

// Validate reports every setting out of its bounds.
func (s Settings) Validate() error {
	var bad apperr.Fields
	for _, b := range bounds {
		v := *b.value(&s)
		bad.Check(v < b.min || v > b.max, b.field, fmt.Sprintf("must be a whole number from %d to %d", b.min, b.max))
	}
	return bad.Err()
}

// policyRow is the admin's policy, stored as JSON (Settings).
type policyRow struct {
	bun.BaseModel `bun:"table:retention_policy"`

	ID        int64     `bun:"id,pk"`
	Policy    string    `bun:"policy"`
	UpdatedBy *int64    `bun:"updated_by"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// Current is the policy in force: the one an admin set, else
// DefaultPolicy.
func Current(ctx context.Context, db bun.IDB) (Policy, error) {
	var row policyRow
	err := db.NewSelect().Model(&row).Where("id = 1").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPolicy, nil
	} else if err != nil {
		return Policy{}, storage.Err(err, "retention policy")
	}
	s := SettingsOf(DefaultPolicy)
	if err := json.Unmarshal([]byte(row.Policy), &s); err != nil {
		return Policy{}, fmt.Errorf("the stored retention policy does not read: %w", err)
	}
	return s.Policy(), nil
}

// Set makes in, whole, the policy, for an admin, and records the change.
func Set(ctx context.Context, db bun.IDB, actor *accounts.Actor, now time.Time, in Settings) (Settings, error) {
	if !actor.Can(accounts.ManageUsers) {
		return Settings{}, apperr.New(apperr.Forbidden, "only an admin may change the retention policy")
	}
	if err := in.Validate(); err != nil {
		return Settings{}, err
	}
	var out Settings
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		if err := storage.LockName(ctx, tx, "retention_policy"); err != nil {
			return err
		}
		current, err := Current(ctx, tx)
		if err != nil {
			return err
		}
		before := SettingsOf(current)
		out = in
		text, err := json.Marshal(out)
		if err != nil {
			return err
		}
		row := &policyRow{ID: 1, Policy: string(text), UpdatedBy: actor.IDPtr(), UpdatedAt: now.UTC()}
		if _, err := tx.NewInsert().Model(row).On("CONFLICT (id) DO UPDATE").
			Set("policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at").Exec(ctx); err != nil {
			return storage.Err(err, "retention policy")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: now.UTC(), ActorID: actor.IDPtr(), Action: "retention.policy_changed",
			SubjectType: "retention_policy", SubjectID: 1}, audit.Change{From: before, To: out})
	})
	return out, err
}
