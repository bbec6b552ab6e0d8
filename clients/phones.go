package clients

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/phone"
	"github.com/devicebank/devicebank/storage"
)

// PhoneBackfill is what NormalizeStoredPhones did.
type PhoneBackfill struct {
	Converted int
	// Unconvertible are the clients whose stored number is not a phone
	// number in use. They are left as they are: an SMS reply cannot be
	// matched to them and texts to them fail, visibly, until someone
	// corrects the number.
	Unconvertible []int64
}

// notE164SQL selects stored numbers not written in E.164: those without a
// leading + or with any of the separators client records allowed before
// numbers were normalised (digits, +, spaces, dashes, dots, brackets).
const notE164SQL = `phone <> '' AND (phone NOT LIKE '+%' OR phone LIKE '% %' OR phone LIKE '%-%' OR phone LIKE '%.%'
	OR phone LIKE '%(%' OR phone LIKE '%)%')`

// NormalizeStoredPhones converts the client phone numbers stored before
// numbers were kept in E.164 ("(312) 555-0100", "3125550100"), reading
// those without a country code in region, and records each change in the
// client's history. SQL cannot apply libphonenumber's rules, so the
// service runs this after its migrations (serve, migrate). It is
// idempotent, and safe with several instances: each write is conditional
// on the number it read.
func NormalizeStoredPhones(ctx context.Context, db bun.IDB, region string, now time.Time) (PhoneBackfill, error) {
	var out PhoneBackfill
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		var rows []struct {
			ID    int64  `bun:"id"`
			Phone string `bun:"phone"`
		}
		if err := tx.NewSelect().Table("clients").Column("id", "phone").Where(notE164SQL).OrderExpr("id").
			Scan(ctx, &rows); err != nil {
			return storage.Err(err, "clients")
		}
		for _, r := range rows {
			e164, err := phone.Normalize(r.Phone, region)
			if err != nil {
				out.Unconvertible = append(out.Unconvertible, r.ID)
				continue
			}
			res, err := tx.NewUpdate().Table("clients").Set("phone = ?", e164).Set("updated_at = ?", now.UTC()).
				Where("id = ? AND phone = ?", r.ID, r.Phone).Exec(ctx)
			if err != nil {
				return storage.Err(err, "client")
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue // another instance converted it
			}
			id := r.ID
			if err := audit.Record(ctx, tx, audit.Event{OccurredAt: now.UTC(), Action: "client.updated", SubjectType: "client",
				SubjectID: id, ClientID: &id}, map[string]any{"fields": []string{"phone"}, "source": "phone_e164"}); err != nil {
				return err
			}
			out.Converted++
		}
		return nil
	})
	if err != nil {
		return PhoneBackfill{}, err
	}
	return out, nil
}
