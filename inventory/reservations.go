package inventory

import (
	"context"
	"slices"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// Reservations. A ready device request holds one available device of its
// kind: the device's reserved_for_request_id names it. The database keeps
// the shape (a device holds at most one request, a request at most one
// device, only an available device is held); these functions and the
// waitlist keep the rest: a ready request always holds a device, and an
// available device held for no one means nobody is waiting for its kind.
//
// Every transaction that changes which devices of a kind are free, or
// whom they are held for, takes that kind's lock (LockKind) before it
// locks any device row: issuing, inspecting, taking a device in, changing
// its kind, and every change of a device request. One order, so they cannot
// deadlock.

// LockKind serializes, until tx ends, the transactions that change the
// free devices of kind or their reservations. On SQLite the transaction
// already holds the write lock.
func (s *Service) LockKind(ctx context.Context, tx bun.Tx, kind string) error {
	return storage.LockName(ctx, tx, kindLockPrefix+kind)
}

// kindLockPrefix begins the name of a kind's lock.
const kindLockPrefix = "devices:"

// lockKinds takes the locks of kinds in one order (by name), so that two
// transactions taking two kinds cannot deadlock.
func (s *Service) lockKinds(ctx context.Context, tx bun.Tx, kinds ...Kind) error {
	kinds = slices.Clone(kinds)
	slices.Sort(kinds)
	for _, k := range slices.Compact(kinds) {
		if err := s.LockKind(ctx, tx, string(k)); err != nil {
			return err
		}
	}
	return nil
}

// lockKindOf takes the lock of the kind of device id, with those of also,
// and returns that kind: "" (and no lock) when there is no such device.
func (s *Service) lockKindOf(ctx context.Context, tx bun.Tx, id int64, also ...Kind) (Kind, error) {
	var kind Kind
	var err error
	if len(also) == 0 {
		// One kind: read and locked in one statement.
		err = storage.SelectLockingName(ctx, tx, &kindOfLocked, func(p storage.Param) *bun.SelectQuery {
			return tx.NewSelect().Model((*Device)(nil)).Where("id = ?", p(0))
		}, []any{id}, "kind", kindLockPrefix, &kind)
	} else {
		err = tx.NewSelect().Model((*Device)(nil)).Column("kind").Where("id = ?", id).Scan(ctx, &kind)
	}
	if err = storage.Err(err, "device"); apperr.Is(err, apperr.NotFound) {
		return "", nil
	} else if err != nil || len(also) == 0 {
		return kind, err
	}
	return kind, s.lockKinds(ctx, tx, append(also, kind)...)
}

// kindOfLocked is lockKindOf's statement for one kind: every change of a
// device's status begins with it.
var kindOfLocked storage.HotQuery

// sameKind checks that a device locked after its kind's lock still has the
// kind that was locked: another transaction may have changed it in between.
func sameKind(d *Device, locked Kind) error {
	if d.Kind != locked {
		return apperr.New(apperr.Conflict, "device %s was changed by someone else at the same moment; reload and try again", d.AssetTag)
	}
	return nil
}

// lockDevice takes the lock of the device's kind (and of also), then reads
// the device with its row locked.
func (s *Service) lockDevice(ctx context.Context, tx bun.Tx, id int64, also ...Kind) (*Device, error) {
	kind, err := s.lockKindOf(ctx, tx, id, also...)
	if err != nil {
		return nil, err
	}
	d, err := s.loadDevice(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	return d, sameKind(d, kind)
}

// Reserve holds a free device of kind (available, held for no one; the
// oldest first) for a request, and returns its id, or 0 when none is free.
// The caller holds the kind's lock.
func (s *Service) Reserve(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind string, requestID int64) (int64, error) {
	for {
		var id int64
		err := tx.NewSelect().Model((*Device)(nil)).Column("id").
			Where("kind = ? AND status = ? AND reserved_for_request_id IS NULL", kind, Available).
			OrderExpr("id").Limit(1).Scan(ctx, &id)
		if err = storage.Err(err, "device"); apperr.Is(err, apperr.NotFound) {
			return 0, nil
		} else if err != nil {
			return 0, err
		}
		now := s.now()
		// Conditional, like every transition: a device lent or inspected
		// at the same moment is not held; then the next one is tried.
		res, err := tx.NewUpdate().Model((*Device)(nil)).Set("reserved_for_request_id = ?", requestID).Set("updated_at = ?", now).
			Where("id = ? AND status = ? AND reserved_for_request_id IS NULL", id, Available).Exec(ctx)
		if err != nil {
			return 0, storage.Err(err, "device")
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return id, audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "device.reserved",
				SubjectType: "device", SubjectID: id, DeviceID: &id}, map[string]any{"request_id": requestID})
		}
	}
}

// Release ends the hold of a request on its device, if it has one, and
// returns that device's id (0 when it held none).
func (s *Service) Release(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID int64) (int64, error) {
	var ids []int64
	now := s.now()
	_, err := tx.NewUpdate().Model((*Device)(nil)).Set("reserved_for_request_id = NULL").Set("updated_at = ?", now).
		Where("reserved_for_request_id = ?", requestID).Returning("id").Exec(ctx, &ids)
	if err != nil || len(ids) == 0 {
		return 0, storage.Err(err, "device")
	}
	id := ids[0]
	return id, audit.Record(ctx, tx, audit.Event{OccurredAt: now, ActorID: actor.IDPtr(), Action: "device.released",
		SubjectType: "device", SubjectID: id, DeviceID: &id}, map[string]any{"request_id": requestID})
}

// ReservedDevice selects the id of the device held for the request whose
// id is in the column requestID (such as "r.id"), for use as a subquery.
func (s *Service) ReservedDevice(db bun.IDB, requestID string) *bun.SelectQuery {
	return db.NewSelect().TableExpr("devices AS held").Column("held.id").
		Where("held.reserved_for_request_id = ?", bun.Ident(requestID))
}
