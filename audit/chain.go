package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/storage"
)

// The audit trail is a chain: Link gives each new event the next place in
// it (chain_seq, from 1 without gaps) and a MAC over the previous event's
// MAC and its own content, under a key the database does not hold (the
// index key of package keyring, unwrapped with the data key). Whoever can
// write to the database but does not hold that key cannot change, remove
// or insert a linked event without Verify finding the first broken link.
// Events are linked after they are written, by a job (every minute in
// serve), so writing one stays a single insert; until then an event can be
// removed unnoticed (docs/privacy.md).

// Keyed makes the chain's MACs: a keyed digest of data in a domain
// (keyring.Ring's Digest).
type Keyed interface {
	Digest(domain string, data []byte) string
}

// chainDomain separates the chain's MACs from every other digest made
// under the same key.
const chainDomain = "audit_events.chain"

// linkBatch is how many events one transaction links.
const linkBatch = 500

// chainHead is the row of audit_chain: the last linked event's place and
// MAC.
type chainHead struct {
	bun.BaseModel `bun:"table:audit_chain"`

	ID      int64  `bun:"id,pk"`
	LastSeq int64  `bun:"last_seq"`
	LastMAC string `bun:"last_mac"`
	// HeadMAC is the head's own keyed MAC: a head moved back to an earlier
	// event without the key does not match it.
	HeadMAC   string    `bun:"head_mac"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// headDomain separates the head's MAC from the events'.
const headDomain = "audit_chain.head"

func (h *chainHead) mac(k Keyed) string {
	b, _ := json.Marshal([]any{h.LastSeq, h.LastMAC})
	return k.Digest(headDomain, b)
}

// ErrHeadChanged is Link's error when the chain's head does not match its
// MAC: changed without the key. Nothing is linked until it is looked into
// (devicebank audit verify), so forged events are not sealed into the chain.
var ErrHeadChanged = errors.New("the audit chain's head was changed or removed without the key; nothing is linked until it is looked into (devicebank audit verify)")

// chained is an event as the chain covers it.
type chained struct {
	bun.BaseModel `bun:"table:audit_events,alias:ev"`

	ID          int64     `bun:"id"`
	OccurredAt  time.Time `bun:"occurred_at"`
	ActorID     *int64    `bun:"actor_id"`
	Action      string    `bun:"action"`
	SubjectType string    `bun:"subject_type"`
	SubjectID   int64     `bun:"subject_id"`
	ClientID    *int64    `bun:"client_id"`
	DeviceID    *int64    `bun:"device_id"`
	LoanID      *int64    `bun:"loan_id"`
	Changes     string    `bun:"changes"`
	ChainSeq    *int64    `bun:"chain_seq"`
	ChainMAC    *string   `bun:"chain_mac"`
}

// mac is the event's MAC at place seq after the event whose MAC is prev.
// Every column the event has is covered, in a fixed order.
func (e *chained) mac(k Keyed, seq int64, prev string) string {
	content, _ := json.Marshal([]any{seq, prev, e.ID, e.OccurredAt.UTC().Format(time.RFC3339Nano), e.ActorID, e.Action,
		e.SubjectType, e.SubjectID, e.ClientID, e.DeviceID, e.LoanID, e.Changes})
	return k.Digest(chainDomain, content)
}

// Link links the events not linked yet, in the order of their ids, and
// returns how many it linked. Several instances may run it at once: each
// transaction holds the chain's head (its row lock on PostgreSQL, the
// write lock on SQLite), so they take turns.
func Link(ctx context.Context, db bun.IDB, k Keyed, now time.Time) (int, error) {
	total := 0
	for {
		n, err := linkSome(ctx, db, k, now)
		total += n
		if err != nil || n < linkBatch {
			return total, err
		}
	}
}

func linkSome(ctx context.Context, db bun.IDB, k Keyed, now time.Time) (int, error) {
	n := 0
	err := storage.InTx(ctx, db, func(tx bun.Tx) error {
		head, err := lockHead(ctx, tx, k, now)
		if err != nil {
			return err
		}
		if head.HeadMAC != head.mac(k) {
			return ErrHeadChanged
		}
		var events []chained
		if err := tx.NewSelect().Model(&events).Where("chain_seq IS NULL").Order("id").Limit(linkBatch).Scan(ctx); err != nil {
			return storage.Err(err, "audit event")
		}
		if len(events) == 0 {
			return nil
		}
		// One statement for the batch: a place and a MAC per event.
		rows := make([]string, len(events))
		args := make([]any, 0, 3*len(events))
		for i := range events {
			e := &events[i]
			seq := head.LastSeq + 1
			mac := e.mac(k, seq, head.LastMAC)
			rows[i] = "(?, ?, ?)"
			args = append(args, e.ID, seq, mac)
			head.LastSeq, head.LastMAC = seq, mac
		}
		res, err := tx.NewRaw("WITH linked (id, seq, mac) AS (VALUES "+strings.Join(rows, ", ")+") "+
			"UPDATE audit_events SET chain_seq = (SELECT seq FROM linked WHERE linked.id = audit_events.id), "+
			"chain_mac = (SELECT mac FROM linked WHERE linked.id = audit_events.id) "+
			"WHERE id IN (SELECT id FROM linked) AND chain_seq IS NULL", args...).Exec(ctx)
		if err != nil {
			return storage.Err(err, "audit event")
		}
		if changed, _ := res.RowsAffected(); changed != int64(len(events)) {
			return fmt.Errorf("%d of %d audit events were linked meanwhile: the chain's head was not held", int64(len(events))-changed, len(events))
		}
		n = len(events)
		_, err = tx.NewUpdate().Model(&head).Set("last_seq = ?", head.LastSeq).Set("last_mac = ?", head.LastMAC).
			Set("head_mac = ?", head.mac(k)).Set("updated_at = ?", now.UTC()).Where("id = 1").Exec(ctx)
		return storage.Err(err, "audit chain")
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// lockHead reads the chain's head and holds it for tx. A chain with no head
// gets one, at place 0, only while no event is linked: a head removed from
// a chain is not made anew, or whoever removed it could have events they
// unlinked and forged sealed again.
func lockHead(ctx context.Context, tx bun.Tx, k Keyed, now time.Time) (chainHead, error) {
	var head chainHead
	// Linkers take turns from here: one making the head must not be taken
	// by another for a head removed.
	if err := storage.LockName(ctx, tx, "audit_chain"); err != nil {
		return head, err
	}
	err := storage.Locked(tx.NewSelect().Model(&head).Where("id = 1")).Scan(ctx)
	if !errors.Is(err, sql.ErrNoRows) {
		return head, storage.Err(err, "audit chain")
	}
	linked, err := tx.NewSelect().Model((*chained)(nil)).Where("chain_seq IS NOT NULL").Limit(1).Count(ctx)
	if err != nil {
		return head, storage.Err(err, "audit event")
	}
	if linked > 0 {
		return head, ErrHeadChanged
	}
	start := &chainHead{ID: 1, UpdatedAt: now.UTC()}
	start.HeadMAC = start.mac(k)
	if _, err := tx.NewInsert().Model(start).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return head, storage.Err(err, "audit chain")
	}
	err = storage.Locked(tx.NewSelect().Model(&head).Where("id = 1")).Scan(ctx)
	return head, storage.Err(err, "audit chain")
}

// Verification is what Verify found.
type Verification struct {
	// Linked is how many events are linked and verified (up to the first
	// broken link, if any); Unlinked how many wait to be linked.
	Linked, Unlinked int64
	// LastSeq and LastMAC are the chain's end as verified: a checkpoint
	// to keep elsewhere and give Verify later (a copy of an old database
	// restored over the trail, or the trail emptied, is noticed only
	// against one).
	LastSeq int64
	LastMAC string
	// Broken, when not "", says where the chain first breaks and how.
	Broken string
	// BrokenSeq and BrokenEvent are that place and event (0: none).
	BrokenSeq, BrokenEvent int64
}

// Checkpoint is a place in the chain and the MAC of the event there, as an
// earlier Verify reported them.
type Checkpoint struct {
	Seq int64
	MAC string
}

// verifyPage is how many events Verify reads at a time.
const verifyPage = 1000

// Verify walks the chain from its start to its head and reports its first
// broken link: an event changed (its MAC does not match), a place missing
// (an event removed or unlinked), a head changed without the key, a chain
// that ends before its head (events removed from the end), or, given a
// checkpoint, a chain that does not hold it. The head is read first, so
// events linked while Verify runs are left for the next one.
func Verify(ctx context.Context, db bun.IDB, k Keyed, expect *Checkpoint) (Verification, error) {
	var v Verification
	var head chainHead
	err := db.NewSelect().Model(&head).Where("id = 1").Scan(ctx)
	noHead := errors.Is(err, sql.ErrNoRows)
	switch {
	case err != nil && !noHead:
		return v, storage.Err(err, "audit chain")
	case !noHead && head.HeadMAC != head.mac(k):
		return v.broken(head.LastSeq, 0, fmt.Sprintf("the chain's head was changed without the key (it says the chain ends at place %d)", head.LastSeq)), nil
	}
	prev, after := "", int64(0)
	for after < head.LastSeq {
		var events []chained
		if err := db.NewSelect().Model(&events).Where("chain_seq > ? AND chain_seq <= ?", after, head.LastSeq).
			Order("chain_seq").Limit(verifyPage).Scan(ctx); err != nil {
			return v, storage.Err(err, "audit event")
		}
		for i := range events {
			e := &events[i]
			seq := *e.ChainSeq
			switch {
			case seq != v.LastSeq+1:
				return v.broken(v.LastSeq+1, 0, "place "+strconv.FormatInt(v.LastSeq+1, 10)+" is missing: an event was removed or unlinked after it was linked"), nil
			case e.ChainMAC == nil || *e.ChainMAC != e.mac(k, seq, prev):
				return v.broken(seq, e.ID, "event "+strconv.FormatInt(e.ID, 10)+" was changed after it was linked (or its MAC was)"), nil
			case expect != nil && seq == expect.Seq && *e.ChainMAC != expect.MAC:
				return v.broken(seq, e.ID, fmt.Sprintf("the event at place %d is not the one the checkpoint names: the trail was replaced", seq)), nil
			}
			prev = *e.ChainMAC
			v.Linked, v.LastSeq, v.LastMAC = v.Linked+1, seq, prev
		}
		if len(events) < verifyPage {
			break
		}
		after = v.LastSeq
	}
	switch {
	case v.LastSeq != head.LastSeq:
		return v.broken(v.LastSeq+1, 0, fmt.Sprintf("the chain ends at place %d, and its head says %d: events were removed from the end", v.LastSeq, head.LastSeq)), nil
	case v.LastMAC != head.LastMAC:
		return v.broken(v.LastSeq, 0, "the chain's head does not name its last event"), nil
	case expect != nil && expect.Seq > v.LastSeq:
		return v.broken(v.LastSeq+1, 0, fmt.Sprintf("the chain ends at place %d, before the checkpoint's place %d: events were removed from the end, or an older copy of the trail was put back", v.LastSeq, expect.Seq)), nil
	}
	if noHead {
		linked, err := db.NewSelect().Model((*chained)(nil)).Where("chain_seq IS NOT NULL").Count(ctx)
		if err != nil {
			return v, storage.Err(err, "audit event")
		}
		if linked > 0 {
			// The first link ever may have made the head since it was read.
			if n, err := db.NewSelect().Model((*chainHead)(nil)).Where("id = 1").Count(ctx); err == nil && n > 0 {
				return Verify(ctx, db, k, expect)
			}
			return v.broken(1, 0, "the chain's head is missing"), nil
		}
	}
	n, err := db.NewSelect().Model((*chained)(nil)).Where("chain_seq IS NULL").Count(ctx)
	v.Unlinked = int64(n)
	return v, storage.Err(err, "audit event")
}

func (v Verification) broken(seq, event int64, why string) Verification {
	v.Broken, v.BrokenSeq, v.BrokenEvent = why, seq, event
	return v
}
