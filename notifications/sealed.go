package notifications

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/keyring"
)

// A notification's body (a reminder greets the client by first name) and
// note (a coordinator's words, which may speak of the client) are sealed
// in the database, each bound to its column and row, until retention or an
// erasure blanks them; sealed_key names the data key they are under. The
// struct holds them opened: sealed only on their way into the database.

// sealedNotifications is how notifications are sealed (keyring.SealedTable).
var sealedNotifications = keyring.SealedTable{Name: "notifications", KeyColumn: "sealed_key", Columns: []string{"body", "note"}}

// UnreadableText stands, in what lists show, for a body or note that does
// not open (damaged, or sealed under a key the database no longer holds).
const UnreadableText = "[this text does not open]"

// sealBatch is how many rows SealStored and Reseal write in one
// transaction.
const sealBatch = 500

func textPlace(column string, id int64) keyring.Place {
	return keyring.Place{Table: sealedNotifications.Name, Column: column, Row: id}
}

// keys is the outbox's key ring, without which notifications can be
// neither sent nor read.
func (o *Outbox) keys() *keyring.Ring {
	if o.Keys == nil {
		panic("notifications: Outbox.Keys is not set")
	}
	return o.Keys
}

// texts are n's body and note, with their columns.
func texts(n *Notification) []struct {
	column string
	value  *string
} {
	return []struct {
		column string
		value  *string
	}{{"body", &n.Body}, {"note", &n.Note}}
}

// open opens n's body and note, as read from its row.
func (o *Outbox) open(n *Notification) error {
	for _, f := range texts(n) {
		plain, err := o.keys().Unseal(*f.value, textPlace(f.column, n.ID))
		if err != nil {
			return fmt.Errorf("notification %d: %w", n.ID, err)
		}
		*f.value = plain
	}
	return nil
}

// openAll opens the body and note of each of ns, for a list: a text that
// does not open is shown as UnreadableText, the other as it is.
func (o *Outbox) openAll(ns []Notification) {
	for i := range ns {
		for _, f := range texts(&ns[i]) {
			plain, err := o.keys().Unseal(*f.value, textPlace(f.column, ns[i].ID))
			if err != nil {
				plain = UnreadableText
			}
			*f.value = plain
		}
	}
}

// setTexts sets on q n's body and note (opened) sealed afresh, and the key
// they are under; unless the row was erased meanwhile (retention, or its
// client's erasure, sets erased_at), which leaves them blank.
func (o *Outbox) setTexts(q *bun.UpdateQuery, n *Notification) *bun.UpdateQuery {
	body, note := o.keys().Seal(n.Body, textPlace("body", n.ID)), o.keys().Seal(n.Note, textPlace("note", n.ID))
	return q.Set("body = CASE WHEN erased_at IS NULL THEN ? ELSE '' END", body).
		Set("note = CASE WHEN erased_at IS NULL THEN ? ELSE '' END", note).
		Set("sealed_key = CASE WHEN erased_at IS NULL THEN ? ELSE NULL END", keyring.KeyOf(body, note))
}

// SealStored seals the texts of the notifications stored before they were
// sealed (keyring.SealUnrecorded), and returns how many it sealed. SQL
// cannot seal, so the service runs it after its migrations, as
// clients.Service.SealStored.
func (o *Outbox) SealStored(ctx context.Context) (int, error) {
	return o.keys().SealUnrecorded(ctx, o.DB, sealedNotifications, sealBatch)
}

// Reseal seals again, under the current data key, every notification
// whose texts are under an older one (after keyring.RotateData), sealBatch
// per transaction, and returns how many (keyring.Ring.Reseal).
func (o *Outbox) Reseal(ctx context.Context) (int, error) {
	return o.keys().Reseal(ctx, o.DB, sealedNotifications, sealBatch)
}
