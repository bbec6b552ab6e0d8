package eligibility

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// A request's decision (whose reasons quote the client's income, programs,
// household and age), its priority reasons (the client's needs), the
// social worker's reason and the coordinator's justification are sealed in
// the database, each bound to its column and the request's row. The struct
// holds them opened: sealed only on their way into the database.

// sealedField is one sealed column and the field of a request holding it.
type sealedField struct {
	column string
	value  *string
}

// sealedFields are r's fields held sealed in the database: the sealed
// columns of device_requests.
func sealedFields(r *DeviceRequest) []sealedField {
	return []sealedField{{"decision", &r.DecisionJSON}, {"priority_reasons", &r.PriorityJSON},
		{"reason", &r.Reason}, {"justification", &r.Justification}}
}

func requestPlace(column string, id int64) keyring.Place {
	return keyring.Place{Table: "device_requests", Column: column, Row: id}
}

// keys is the service's key ring, which requests cannot be read or filed
// without.
func (s *Service) keys() *keyring.Ring {
	if s.Keys == nil {
		panic("eligibility: Service.Keys is not set")
	}
	return s.Keys
}

// seal is plain sealed for column of request id.
func (s *Service) seal(id int64, column, plain string) string {
	return s.keys().Seal(plain, requestPlace(column, id))
}

// unseal opens the value column of request id holds.
func (s *Service) unseal(id int64, column, sealed string) (string, error) {
	plain, err := s.keys().Unseal(sealed, requestPlace(column, id))
	if err != nil {
		return "", fmt.Errorf("request %d: %w", id, err)
	}
	return plain, nil
}

// open opens r's sealed fields, as read from its row, and decodes them.
func (s *Service) open(r *DeviceRequest) error {
	for _, f := range sealedFields(r) {
		v, err := s.unseal(r.ID, f.column, *f.value)
		if err != nil {
			return err
		}
		*f.value = v
	}
	return r.decode()
}

// insert inserts r, setting its id. Its row is inserted with the sealed
// fields empty, as the id bound into each seal is not known before, then
// given them sealed, in the same transaction (tx).
func (s *Service) insert(ctx context.Context, tx bun.IDB, r *DeviceRequest) error {
	row := *r
	for _, f := range sealedFields(&row) {
		*f.value = ""
	}
	if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
		return err
	}
	r.ID = row.ID
	_, err := s.setSealed(tx.NewUpdate().Table("device_requests").Where("id = ?", r.ID), r).Exec(ctx)
	return err
}

// Decision opens a request's decision as its row holds it (the column
// decision, sealed), for a report that reads request rows itself.
func (s *Service) Decision(id int64, sealed string) (Decision, error) {
	var d Decision
	text, err := s.unseal(id, "decision", sealed)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return d, fmt.Errorf("request %d: the stored decision does not read: %w", id, err)
	}
	return d, nil
}

// sealBatch is how many rows SealStored and Reseal write in one
// transaction.
const sealBatch = 500

// sealedRequests is how device requests are sealed: the columns of
// sealedFields, and sealed_key, the data key they are under.
var sealedRequests = func() keyring.SealedTable {
	t := keyring.SealedTable{Name: "device_requests", KeyColumn: "sealed_key"}
	for _, f := range sealedFields(new(DeviceRequest)) {
		t.Columns = append(t.Columns, f.column)
	}
	return t
}()

// SealStored seals the values of the device requests stored before they
// were sealed, and returns how many requests it sealed. SQL cannot seal,
// so the service runs it after its migrations (serve, migrate), as
// clients.Service.SealStored. It reads only the requests whose key is
// unrecorded (keyring.SealUnrecorded), and is safe with several instances.
// The plain values may linger in the database's free pages until it is
// vacuumed (docs/privacy.md).
func (s *Service) SealStored(ctx context.Context) (int, error) {
	return s.keys().SealUnrecorded(ctx, s.DB, sealedRequests, sealBatch)
}

// Reseal seals again, under the current data key, every device request
// sealed under an older one (after keyring.RotateData), sealBatch per
// transaction, and returns how many (keyring.Ring.Reseal).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	return s.keys().Reseal(ctx, s.DB, sealedRequests, sealBatch)
}

// setSealed sets on q every sealed column of r, which holds them opened,
// sealed afresh, and the data key they are sealed under: a request's
// sealed values are written together, so that its key names them all.
func (s *Service) setSealed(q *bun.UpdateQuery, r *DeviceRequest) *bun.UpdateQuery {
	var sealed []string
	for _, f := range sealedFields(r) {
		v := s.seal(r.ID, f.column, *f.value)
		q.Set("? = ?", bun.Ident(f.column), v)
		sealed = append(sealed, v)
	}
	return q.Set("? = ?", bun.Ident(sealedRequests.KeyColumn), keyring.KeyOf(sealed...))
}

// Redact erases, within db, what the device requests of the clients
// clientIDs say of them, as those clients are erased (clients.Anonymise):
// each decision keeps its outcome and every rule's outcome, which reports
// count, without the reasons that quote the client; the priority reasons,
// the social worker's reason and the justification go.
func (s *Service) Redact(ctx context.Context, db bun.IDB, clientIDs []int64) error {
	if len(clientIDs) == 0 {
		return nil
	}
	var rows []struct {
		ID       int64  `bun:"id"`
		Decision string `bun:"decision"`
	}
	if err := db.NewSelect().Table("device_requests").Column("id", "decision").
		Where("client_id IN (?)", bun.In(clientIDs)).Scan(ctx, &rows); err != nil {
		return storage.Err(err, "requests")
	}
	for _, r := range rows {
		d, err := s.Decision(r.ID, r.Decision)
		if err != nil {
			return err
		}
		for i := range d.Rules {
			d.Rules[i].Reason = ""
		}
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		redacted := &DeviceRequest{ID: r.ID, DecisionJSON: string(b), PriorityJSON: "[]"}
		if _, err := s.setSealed(db.NewUpdate().Table("device_requests").Where("id = ?", r.ID), redacted).Exec(ctx); err != nil {
			return storage.Err(err, "request")
		}
	}
	return nil
}
