// Package inventory owns the loanable pool: devices and their accessories,
// data plans, and loans with their lifecycle.
//
// A device moves through these statuses:
//
//	available --issue--> on_loan --return--> inspection --inspect(ready, wiped)--> available
//	                        |                     |--inspect(repair)--> repair --inspect--> ...
//	                        |                     '--inspect(retire)--> retired
//	                        '--lost--> lost --recovered--> inspection
//
// An available device may be held for a ready device request
// (reserved_for_request_id): then only a loan against that request may
// take it. See reservations.go.
//
// Every transition is a conditional update inside a transaction that also
// writes the loan change and the audit event, so concurrent requests cannot
// both win: a device is on at most one open loan, guarded by a partial
// unique index as well.
package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/optional"
	"github.com/devicebank/devicebank/storage"
)

// Kind is what sort of device it is.
type Kind string

// Kinds lists the device kinds.
var Kinds = []Kind{"phone", "tablet", "laptop", "hotspot", "other"}

// Status is where a device is in its lifecycle.
type Status string

const (
	Available  Status = "available"
	OnLoan     Status = "on_loan"
	Inspection Status = "inspection"
	Repair     Status = "repair"
	Lost       Status = "lost"
	Retired    Status = "retired"
)

// Statuses lists the device statuses.
var Statuses = []Status{Available, OnLoan, Inspection, Repair, Lost, Retired}

// Conditions lists the physical conditions a device can be in.
var Conditions = []string{"new", "good", "fair", "poor", "damaged"}

func oneOf[T ~string](v T, options []T) bool {
	for _, o := range options {
		if v == o {
			return true
		}
	}
	return false
}

func list[T ~string](options []T) string {
	s := make([]string, len(options))
	for i, o := range options {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// Device is one loanable item.
type Device struct {
	bun.BaseModel `bun:"table:devices,alias:d"`

	ID                int64       `bun:"id,pk,autoincrement" json:"id"`
	Kind              Kind        `bun:"kind" json:"kind"`
	Make              string      `bun:"make" json:"make"`
	Model             string      `bun:"model" json:"model"`
	Serial            string      `bun:"serial" json:"serial"`
	IMEI              string      `bun:"imei" json:"imei"`
	AssetTag          string      `bun:"asset_tag" json:"asset_tag"`
	Status            Status      `bun:"status" json:"status"`
	Condition         string      `bun:"condition" json:"condition"`
	PurchaseCostCents int64       `bun:"purchase_cost_cents" json:"purchase_cost_cents"`
	Notes             string      `bun:"notes" json:"notes"`
	LastWipedAt       *time.Time  `bun:"last_wiped_at" json:"last_wiped_at"`
	CreatedAt         time.Time   `bun:"created_at" json:"created_at"`
	UpdatedAt         time.Time   `bun:"updated_at" json:"updated_at"`
	Accessories       []Accessory `bun:"rel:has-many,join:id=device_id" json:"accessories"`

	// FundingSourceID is the funding source that paid for the device;
	// null when none is recorded.
	FundingSourceID *int64 `bun:"funding_source_id" json:"funding_source_id"`
	// FundingSource is that source's name ("" for none), read only: kept
	// in the JSON for scripts written when it was the device's own text.
	FundingSource string `bun:"funding_source_name,scanonly" json:"funding_source"`

	// ReservedForRequestID is the ready device request this available
	// device is held for; null when it is held for none.
	ReservedForRequestID *int64 `bun:"reserved_for_request_id" json:"reserved_for_request_id"`
	// SortKey orders devices by asset tag alike on every database; it is
	// set whenever the row is written (BeforeAppendModel).
	SortKey []byte `bun:"sort_key" json:"-"`
	// AccessoriesJSON is the accessories as read with the device, in one
	// query (withAccessories); normalize turns it into Accessories.
	AccessoriesJSON []byte `bun:"accessories_json,scanonly" json:"-"`
}

var _ bun.BeforeAppendModelHook = (*Device)(nil)

// BeforeAppendModel keeps the sort key in step with the asset tag on every
// insert and update. An update that names its columns must name sort_key
// with asset_tag.
func (d *Device) BeforeAppendModel(_ context.Context, q bun.Query) error {
	switch q.(type) {
	case *bun.InsertQuery, *bun.UpdateQuery:
		d.SortKey = storage.SortKey(d.AssetTag)
	}
	return nil
}

// Accessory is something that goes out with a device (a charger, a case).
type Accessory struct {
	bun.BaseModel `bun:"table:device_accessories,alias:acc"`

	ID                   int64  `bun:"id,pk,autoincrement" json:"-"`
	DeviceID             int64  `bun:"device_id" json:"-"`
	Position             int    `bun:"position" json:"-"`
	Name                 string `bun:"name" json:"name"`
	ReplacementCostCents int64  `bun:"replacement_cost_cents" json:"replacement_cost_cents"`
}

// Service manages the pool and loans.
type Service struct {
	DB  bun.IDB
	Now func() time.Time
	// Location is the agency's time zone: it decides what "today" is for
	// due dates and overdue loans.
	Location *time.Location
	Clients  Caseloads
	// Waitlist hears of devices that become available; may be nil.
	Waitlist Waitlist
	// Reminders hears of loans that close or move their due date; may be nil.
	Reminders Reminders
	// Agency is the agency's name, printed on asset labels.
	Agency string
	// AgencyOf, when set, is the agency's name at use time (an admin may
	// change it); Agency is then unused.
	AgencyOf func(context.Context) string
	// Funding checks the funding source a device or a data plan names.
	Funding FundingSources
	// Keys seal a loan's notes (sealed.go).
	Keys *keyring.Ring
}

// FundingSources is what inventory needs to know about funding sources.
// Satisfied by funding.Service.
type FundingSources interface {
	// Name returns the name of funding source id, and whether there is one.
	Name(ctx context.Context, db bun.IDB, id int64) (string, bool, error)
	// Named returns the id and name of the source called name, ignoring
	// case; id 0 when there is none.
	Named(ctx context.Context, db bun.IDB, name string) (int64, string, error)
	// NameQuery selects the name of the source whose id is in column.
	NameQuery(db bun.IDB, column string) *bun.SelectQuery
}

// Reminders is told, inside the transaction, that a loan changed: closed
// (returned, lost) or given a new due date, so that reminders that no
// longer apply are cancelled.
type Reminders interface {
	LoanChanged(ctx context.Context, tx bun.IDB, loanID int64, open bool, dueOn calendar.Date) error
}

// Waitlist is what inventory tells the device-request side, inside the
// transaction that holds the lock of the device's kind (LockKind).
type Waitlist interface {
	// DeviceFreed: a device of kind is available and held for no request.
	DeviceFreed(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind string) error
	// ReservationLost: the device held for a ready request went out of
	// service (repair, retired) and was released.
	ReservationLost(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID int64) error
	// Fulfil marks a ready request as fulfilled by a new loan.
	Fulfil(ctx context.Context, tx bun.Tx, actor *accounts.Actor, requestID, clientID int64, kind string, loanID int64) error
	// WalkIn refuses (Conflict) a loan of kind without a request to a
	// client who should be served through one.
	WalkIn(ctx context.Context, tx bun.Tx, clientID int64, kind string) error
}

// freed tells the waitlist, if any, that a device of kind is available.
func (s *Service) freed(ctx context.Context, tx bun.Tx, actor *accounts.Actor, kind Kind) error {
	if s.Waitlist == nil {
		return nil
	}
	return s.Waitlist.DeviceFreed(ctx, tx, actor, string(kind))
}

// Caseloads is what this package needs to know about clients.
type Caseloads interface {
	// CaseloadIDs selects the ids of a social worker's clients.
	CaseloadIDs(db bun.IDB, workerID int64) *bun.SelectQuery
	// VisibleIDs selects the ids of the clients actor may see.
	VisibleIDs(db bun.IDB, actor *accounts.Actor) *bun.SelectQuery
	// Visible reports whether actor may see the client (false too when
	// there is no such client).
	Visible(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (bool, error)
	// VisibleHeld is Visible for a writer attaching a loan to the client,
	// within its transaction: the client is held against an erasure.
	VisibleHeld(ctx context.Context, db bun.IDB, actor *accounts.Actor, id int64) (bool, error)
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) today() calendar.Date { return calendar.Today(s.Now(), s.Location) }

// DeviceInput is a device as entered; for an update, nil fields stay as
// they are. Status is not editable: it changes only through the lifecycle.
type DeviceInput struct {
	Kind              *Kind        `json:"kind"`
	Make              *string      `json:"make"`
	Model             *string      `json:"model"`
	Serial            *string      `json:"serial"`
	IMEI              *string      `json:"imei"`
	AssetTag          *string      `json:"asset_tag"`
	Condition         *string      `json:"condition"`
	PurchaseCostCents *int64       `json:"purchase_cost_cents"`
	Notes             *string      `json:"notes"`
	Accessories       *[]Accessory `json:"accessories"`
	// FundingSourceID names the funding source; null for none.
	FundingSourceID optional.Field[int64] `json:"funding_source_id"`
	// FundingSource names it by its name instead (ignoring case; "" for
	// none), for scripts written when it was the device's own text. A
	// name no funding source has is refused: an admin adds sources.
	FundingSource *string `json:"funding_source"`
}

func (in DeviceInput) apply(d *Device) error {
	optional.Assign(&d.Kind, in.Kind)
	for dst, src := range map[*string]*string{&d.Make: in.Make, &d.Model: in.Model, &d.Serial: in.Serial,
		&d.IMEI: in.IMEI, &d.AssetTag: in.AssetTag, &d.Condition: in.Condition, &d.Notes: in.Notes} {
		optional.AssignTrimmed(dst, src)
	}
	optional.Assign(&d.PurchaseCostCents, in.PurchaseCostCents)
	optional.Assign(&d.Accessories, in.Accessories)
	if d.Condition == "" {
		d.Condition = "good"
	}

	var bad apperr.Fields
	bad.Check(!oneOf(d.Kind, Kinds), "kind", "must be one of "+list(Kinds))
	bad.Check(d.Make == "", "make", "is required")
	bad.MaxLength("make", d.Make, 100)
	bad.Check(d.Model == "", "model", "is required")
	bad.MaxLength("model", d.Model, 100)
	bad.MaxLength("serial", d.Serial, 100)
	bad.Check(d.IMEI != "" && !validIMEI(d.IMEI), "imei", "must be 15 digits with a valid check digit")
	bad.MaxLength("asset_tag", d.AssetTag, 50)
	bad.Check(!oneOf(d.Condition, Conditions), "condition", "must be one of "+list(Conditions))
	bad.MaxLength("notes", d.Notes, MaxNotesLength)
	bad.Check(d.PurchaseCostCents < 0, "purchase_cost_cents", "must not be negative")
	bad.Check(len(d.Accessories) > 50, "accessories", "at most 50 accessories")
	for i := range d.Accessories {
		a := &d.Accessories[i]
		a.Name = strings.TrimSpace(a.Name)
		a.Position = i
		bad.Check(a.Name == "", fmt.Sprintf("accessories[%d].name", i), "is required")
		bad.MaxLength(fmt.Sprintf("accessories[%d].name", i), a.Name, 100)
		bad.Check(a.ReplacementCostCents < 0, fmt.Sprintf("accessories[%d].replacement_cost_cents", i), "must not be negative")
	}
	return bad.Err()
}

// CheckOn checks the input as CreateDevice (d the zero Device) or
// UpdateDevice (d the device) would, but for its funding source, without
// saving anything: for a form that finds problems of its own, to name the
// service's too.
func (in DeviceInput) CheckOn(d Device) error {
	d.Accessories = slices.Clone(d.Accessories)
	if in.Accessories != nil {
		acc := slices.Clone(*in.Accessories)
		in.Accessories = &acc
	}
	return in.apply(&d)
}

// validIMEI checks an IMEI's 15 digits and its Luhn check digit.
func validIMEI(s string) bool {
	if len(s) != 15 {
		return false
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n := int(c - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

func (d *Device) fields() map[string]any {
	return map[string]any{
		"kind": d.Kind, "make": d.Make, "model": d.Model, "serial": d.Serial, "imei": d.IMEI,
		"asset_tag": d.AssetTag, "condition": d.Condition, "funding_source_id": d.FundingSourceID,
		"purchase_cost_cents": d.PurchaseCostCents, "notes": d.Notes, "accessories": d.Accessories,
	}
}

func deviceEvent(actor *accounts.Actor, at time.Time, action string, d *Device) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action,
		SubjectType: "device", SubjectID: d.ID, DeviceID: &d.ID}
}

// deviceConflict turns a unique violation on a device into a field error.
func deviceConflict(err error) error {
	for _, col := range []string{"asset_tag", "imei", "serial"} {
		if storage.UniqueOn(err, col) {
			return &apperr.Error{Code: apperr.Conflict, Message: "another device has this " + col,
				Fields: map[string]string{col: "is already used by another device"}}
		}
	}
	return storage.Err(err, "device")
}

// nextAssetTag takes the next number from the asset-tag counter, in tx.
func nextAssetTag(ctx context.Context, tx bun.Tx) (string, error) {
	var n int64
	err := tx.NewRaw("UPDATE counters SET value = value + 1 WHERE name = 'asset_tag' RETURNING value").Scan(ctx, &n)
	if err != nil {
		return "", storage.Err(err, "asset tag counter")
	}
	return fmt.Sprintf("DB-%06d", n), nil
}

// CreateDevice takes a device into the pool, available. Without an asset
// tag, the next free DB-NNNNNN tag is given.
func (s *Service) CreateDevice(ctx context.Context, actor *accounts.Actor, in DeviceInput) (*Device, error) {
	d := &Device{Status: Available}
	if err := apperr.Join(in.apply(d), s.fundDevice(ctx, s.DB, in, d)); err != nil {
		return nil, err
	}
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		if err := s.LockKind(ctx, tx, string(d.Kind)); err != nil {
			return err
		}
		if err := s.insertDevice(ctx, tx, actor, d); err != nil {
			return err
		}
		return s.freed(ctx, tx, actor, d.Kind)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// insertDevice writes the checked device d, available, with its
// accessories, first status and audit event, in tx, which holds the lock
// of d's kind. Without an asset tag, d is given the next free DB-NNNNNN.
func (s *Service) insertDevice(ctx context.Context, tx bun.Tx, actor *accounts.Actor, d *Device) error {
	d.CreatedAt = s.now()
	d.UpdatedAt = d.CreatedAt
	// A generated tag may collide with one a coordinator typed in by
	// hand; then the next number is tried, in a savepoint-free way: the
	// check runs before the insert.
	for generate := d.AssetTag == ""; generate; {
		tag, err := nextAssetTag(ctx, tx)
		if err != nil {
			return err
		}
		taken, err := tx.NewSelect().Model((*Device)(nil)).Where("asset_tag = ?", tag).Exists(ctx)
		if err != nil {
			return storage.Err(err, "device")
		}
		if !taken {
			d.AssetTag = tag
			break
		}
	}
	if _, err := tx.NewInsert().Model(d).ExcludeColumn("last_wiped_at").Exec(ctx); err != nil {
		return deviceConflict(err)
	}
	if err := s.saveAccessories(ctx, tx, d); err != nil {
		return err
	}
	if err := recordStatus(ctx, tx, d.ID, d.Status, d.CreatedAt); err != nil {
		return err
	}
	return audit.Record(ctx, tx, deviceEvent(actor, d.CreatedAt, "device.created", d), d.fields())
}

func (s *Service) saveAccessories(ctx context.Context, tx bun.Tx, d *Device) error {
	if _, err := tx.NewDelete().Model((*Accessory)(nil)).Where("device_id = ?", d.ID).Exec(ctx); err != nil {
		return storage.Err(err, "accessories")
	}
	if d.Accessories == nil {
		d.Accessories = []Accessory{}
	}
	for i := range d.Accessories {
		d.Accessories[i].DeviceID = d.ID
		d.Accessories[i].ID = 0
	}
	if len(d.Accessories) == 0 {
		return nil
	}
	_, err := tx.NewInsert().Model(&d.Accessories).Exec(ctx)
	return storage.Err(err, "accessories")
}

// loadDevice reads a device with its accessories; with lock, the device's
// row stays locked for the caller's transaction.
func (s *Service) loadDevice(ctx context.Context, db bun.IDB, id int64, lock bool) (*Device, error) {
	d := new(Device)
	hot := &deviceRead
	if lock {
		hot = &deviceReadLocked
	}
	err := hot.ScanOne(ctx, db, func(param storage.Param) storage.Query {
		q := withAccessories(db, s.withFundingName(db, db.NewSelect().Model((*Device)(nil)))).Where("d.id = ?", param(0))
		return storage.LockedIf(q, lock)
	}, []any{id}, d)
	if err != nil {
		return nil, storage.Err(err, "device")
	}
	return d, d.normalize()
}

// deviceRead is loadDevice's query without a lock (a device read is the
// service's most frequent request), deviceReadLocked with one (every change
// of a device reads it first).
var deviceRead, deviceReadLocked storage.HotQuery

// withAccessories adds to q (over devices AS d) each device's accessories,
// in order, as one JSON array: a device and its accessories are one query,
// where a relation would be a second (a device read is the service's most
// frequent request).
func withAccessories(db bun.IDB, q *bun.SelectQuery) *bun.SelectQuery {
	agg := "json_group_array(json_object('name', acc.name, 'replacement_cost_cents', acc.replacement_cost_cents) ORDER BY acc.position)"
	if db.Dialect().Name() == dialect.PG {
		agg = "coalesce(json_agg(json_build_object('name', acc.name, 'replacement_cost_cents', acc.replacement_cost_cents) ORDER BY acc.position), '[]')"
	}
	return q.ColumnExpr("(SELECT " + agg + " FROM device_accessories AS acc WHERE acc.device_id = d.id) AS accessories_json")
}

// normalize turns the accessories read as JSON into the list ("no
// accessories" is an empty list, never null).
func (d *Device) normalize() error {
	if d.AccessoriesJSON != nil {
		d.Accessories = nil
		if err := json.Unmarshal(d.AccessoriesJSON, &d.Accessories); err != nil {
			return apperr.Wrap(err, "device accessories")
		}
		for i := range d.Accessories {
			d.Accessories[i].DeviceID, d.Accessories[i].Position = d.ID, i
		}
		d.AccessoriesJSON = nil
	}
	if d.Accessories == nil {
		d.Accessories = []Accessory{}
	}
	return nil
}

// Device returns one device with its accessories.
func (s *Service) Device(ctx context.Context, id int64) (*Device, error) {
	return s.loadDevice(ctx, s.DB, id, false)
}

// UpdateDevice changes a device's description. Its status is left alone.
func (s *Service) UpdateDevice(ctx context.Context, actor *accounts.Actor, id int64, in DeviceInput) (*Device, error) {
	var d *Device
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var also []Kind
		if in.Kind != nil && oneOf(*in.Kind, Kinds) {
			also = append(also, *in.Kind)
		}
		var err error
		if d, err = s.lockDevice(ctx, tx, id, also...); err != nil {
			return err
		}
		before := d.fields()
		oldKind := d.Kind
		var tagErr apperr.Fields
		tagErr.Check(in.AssetTag != nil && strings.TrimSpace(*in.AssetTag) == "", "asset_tag", "must not be empty")
		if err := apperr.Join(tagErr.Err(), in.apply(d), s.fundDevice(ctx, tx, in, d)); err != nil {
			return err
		}
		changes := audit.Diff(before, d.fields())
		if len(changes) == 0 {
			return nil
		}
		if d.Kind != oldKind && d.ReservedForRequestID != nil {
			return apperr.New(apperr.Conflict, "device %s is held for request %d, for a %s; it cannot become a %s while held",
				d.AssetTag, *d.ReservedForRequestID, oldKind, d.Kind)
		}
		d.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(d).
			Column("kind", "make", "model", "serial", "imei", "asset_tag", "sort_key", "condition",
				"funding_source_id", "purchase_cost_cents", "notes", "updated_at").
			WherePK().Exec(ctx); err != nil {
			return deviceConflict(err)
		}
		if in.Accessories != nil {
			if err := s.saveAccessories(ctx, tx, d); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, tx, deviceEvent(actor, d.UpdatedAt, "device.updated", d), changes); err != nil {
			return err
		}
		// A free device that changes kind is a free device of its new kind.
		if d.Kind != oldKind && d.Status == Available {
			return s.freed(ctx, tx, actor, d.Kind)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeviceFilter narrows a list of devices.
type DeviceFilter struct {
	Status Status
	Kind   Kind
	// FundingSourceID keeps the devices this funding source paid for.
	FundingSourceID int64
	// Q matches part of the asset tag, serial, make, model or IMEI, ignoring case.
	Q string
}

// ParseDeviceFilter checks filter values given as text.
func ParseDeviceFilter(status, kind, q string) (DeviceFilter, error) {
	f := DeviceFilter{Status: Status(status), Kind: Kind(kind), Q: strings.TrimSpace(q)}
	var bad apperr.Fields
	bad.Check(status != "" && !oneOf(f.Status, Statuses), "status", "must be one of "+list(Statuses))
	bad.Check(kind != "" && !oneOf(f.Kind, Kinds), "kind", "must be one of "+list(Kinds))
	return f, bad.Err()
}

// ListDevices returns devices matching f, by asset tag.
func (s *Service) ListDevices(ctx context.Context, f DeviceFilter, page storage.Page) ([]Device, int, error) {
	out := []Device{}
	q := withAccessories(s.DB, s.withFundingName(s.DB, s.DB.NewSelect().Model(&out)))
	filterDevices(q, f)
	total, err := page.Apply(q.OrderExpr("d.sort_key, d.id")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "devices")
	}
	for i := range out {
		if err := out[i].normalize(); err != nil {
			return nil, 0, err
		}
	}
	return out, int(total), nil
}

// filterDevices narrows q (over devices AS d) to those matching f.
func filterDevices(q *bun.SelectQuery, f DeviceFilter) *bun.SelectQuery {
	if f.FundingSourceID != 0 {
		q.Where("d.funding_source_id = ?", f.FundingSourceID)
	}
	if f.Status != "" {
		q.Where("d.status = ?", f.Status)
	}
	if f.Kind != "" {
		q.Where("d.kind = ?", f.Kind)
	}
	if f.Q != "" {
		like := "%" + strings.ToLower(storage.EscapeLike(f.Q)) + "%"
		q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, col := range []string{"d.asset_tag", "d.serial", "d.make", "d.model", "d.imei"} {
				q.WhereOr("LOWER("+col+") LIKE ? ESCAPE '\\'", like)
			}
			return q
		})
	}
	return q
}

// CountDevices counts the devices ListDevices would list, without reading
// them.
func (s *Service) CountDevices(ctx context.Context, f DeviceFilter) (int, error) {
	n, err := filterDevices(s.DB.NewSelect().Model((*Device)(nil)), f).Count(ctx)
	return int(n), storage.Err(err, "devices")
}

// AvailableByKind counts the available devices of each kind, every kind
// named (0 for none).
func (s *Service) AvailableByKind(ctx context.Context) (map[Kind]int, error) {
	var rows []struct {
		Kind Kind `bun:"kind"`
		N    int  `bun:"n"`
	}
	err := s.DB.NewSelect().Model((*Device)(nil)).Column("kind").ColumnExpr("COUNT(*) AS n").
		Where("d.status = ?", Available).Group("kind").Scan(ctx, &rows)
	if err != nil {
		return nil, storage.Err(err, "devices")
	}
	out := make(map[Kind]int, len(Kinds))
	for _, k := range Kinds {
		out[k] = 0
	}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, nil
}

// Outcome is what an inspection decides.
type Outcome string

const (
	Ready       Outcome = "ready"
	NeedsRepair Outcome = "repair"
	Retire      Outcome = "retire"
)

// InspectionInput is the result of inspecting a device.
type InspectionInput struct {
	// Wiped confirms the device's data was erased. Required, and must be
	// true for the device to go back into the pool.
	Wiped     *bool   `json:"wiped"`
	Outcome   Outcome `json:"outcome"`
	Condition string  `json:"condition"`
	Notes     string  `json:"notes"`
}

var inspectable = []Status{Inspection, Repair, Available}

// InspectDevice records an inspection of a device that is in inspection, in
// repair, or available (pulled from the pool for a check), and moves it on.
func (s *Service) InspectDevice(ctx context.Context, actor *accounts.Actor, id int64, in InspectionInput) (*Device, error) {
	var bad apperr.Fields
	bad.Check(in.Wiped == nil, "wiped", "is required: confirm whether the device's data was wiped")
	bad.Check(!oneOf(in.Outcome, []Outcome{Ready, NeedsRepair, Retire}), "outcome", "must be one of ready, repair, retire")
	bad.Check(in.Outcome == Ready && in.Wiped != nil && !*in.Wiped, "wiped", "must be true: a device goes back into the pool only after its data is wiped")
	bad.Check(in.Condition != "" && !oneOf(in.Condition, Conditions), "condition", "must be one of "+list(Conditions))
	bad.MaxLength("notes", in.Notes, MaxNotesLength)
	if err := bad.Err(); err != nil {
		return nil, err
	}
	next := map[Outcome]Status{Ready: Available, NeedsRepair: Repair, Retire: Retired}[in.Outcome]
	var d *Device
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		var err error
		if d, err = s.lockDevice(ctx, tx, id); err != nil {
			return err
		}
		if !oneOf(d.Status, inspectable) {
			return apperr.New(apperr.Conflict, "device %s is %s; only a device in inspection, in repair or available can be inspected", d.AssetTag, d.Status)
		}
		now := s.now()
		from := d.Status
		// A held device taken out of the pool is released first: only an
		// available device can be held.
		held := d.ReservedForRequestID
		if held != nil && next != Available {
			if _, err := s.Release(ctx, tx, actor, *held); err != nil {
				return err
			}
			d.ReservedForRequestID = nil
		}
		// One statement whatever was inspected, kept prepared: a wipe and a
		// condition are set when given.
		update := func(p storage.Param) *bun.UpdateQuery {
			return tx.NewUpdate().Model((*Device)(nil)).Set("status = ?", p(0)).Set("updated_at = ?", p(1)).
				Set("last_wiped_at = CASE WHEN ? THEN ? ELSE last_wiped_at END", p(2), p(1)).
				Set("condition = COALESCE(NULLIF(?, ''), condition)", p(3)).
				Where("d.id = ?", p(4)).Where("status = ?", p(5))
		}
		args := []any{next, now, *in.Wiped, in.Condition, d.ID, from}
		if *in.Wiped {
			d.LastWipedAt = &now
		}
		if in.Condition != "" {
			d.Condition = in.Condition
		}
		if next != from {
			err = moveDevice(ctx, tx, &inspectMove, update, args, d.ID, next, now, d.AssetTag)
		} else {
			res, err2 := inspectInPlace.Exec(ctx, tx, func(p storage.Param) storage.Query { return update(p) }, args...)
			err = changedOne(res, err2, "device", d.AssetTag)
		}
		if err != nil {
			return err
		}
		d.Status, d.UpdatedAt = next, now
		if err := audit.Record(ctx, tx, deviceEvent(actor, now, "device.inspected", d), map[string]any{
			"status": audit.Change{From: from, To: next}, "wiped": *in.Wiped, "outcome": in.Outcome,
			"condition": d.Condition, "notes": strings.TrimSpace(in.Notes)}); err != nil {
			return err
		}
		switch {
		case next == Available && from != Available:
			return s.freed(ctx, tx, actor, d.Kind)
		case held != nil && next != Available && s.Waitlist != nil:
			return s.Waitlist.ReservationLost(ctx, tx, actor, *held)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// statusChange is one entry of a device's status history, which reports
// read to know how the pool stood at any moment.
type statusChange struct {
	bun.BaseModel `bun:"table:device_status_changes"`

	ID        int64     `bun:"id,pk,autoincrement"`
	DeviceID  int64     `bun:"device_id"`
	Status    Status    `bun:"status"`
	ChangedAt time.Time `bun:"changed_at"`
}

// recordStatus adds a device's new status to its history, in the
// transaction that moved it.
func recordStatus(ctx context.Context, tx bun.Tx, deviceID int64, status Status, at time.Time) error {
	_, err := tx.NewInsert().Model(&statusChange{DeviceID: deviceID, Status: status, ChangedAt: at}).Exec(ctx)
	return storage.Err(err, "device status history")
}

// moveDevice runs update, the conditional update of one device (its
// status to status, among other columns) with args, a Conflict when it
// changes nothing, and records the new status in the device's history at
// at. On PostgreSQL the two are one statement, the update in a WITH of the
// history's insert: a round trip less in every issue, return and
// inspection, each of which holds its kind's lock until it commits. h
// keeps the statement prepared (one HotQuery per update).
func moveDevice(ctx context.Context, tx bun.Tx, h *storage.HotQuery, update func(p storage.Param) *bun.UpdateQuery, args []any,
	deviceID int64, status Status, at time.Time, name string) error {
	if tx.Dialect().Name() != dialect.PG {
		res, err := h.Exec(ctx, tx, func(p storage.Param) storage.Query { return update(p) }, args...)
		if err := changedOne(res, err, "device", name); err != nil {
			return err
		}
		return recordStatus(ctx, tx, deviceID, status, at)
	}
	n := len(args)
	res, err := h.Exec(ctx, tx, func(p storage.Param) storage.Query {
		return tx.NewRaw("WITH moved AS (?) INSERT INTO device_status_changes (device_id, status, changed_at) SELECT id, ?, ? FROM moved",
			update(p).Returning("id"), p(n), p(n+1))
	}, slices.Concat(args, []any{status, at})...)
	return changedOne(res, err, "device", name)
}

// The device moves of every loan's way, kept prepared (moveDevice), and an
// inspection that leaves the status as it was.
var lendMove, loanMove, inspectMove, inspectInPlace storage.HotQuery

// changedOne reports a Conflict when a conditional update changed no row:
// another request moved the record first.
func changedOne(res sql.Result, err error, what, name string) error {
	if err != nil {
		return storage.Err(err, what)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "%s %s was changed by someone else at the same moment; reload and try again", what, name)
	}
	return nil
}

// DeviceHistory returns every recorded event about a device, loans included.
func (s *Service) DeviceHistory(ctx context.Context, id int64, page storage.Page) ([]audit.Event, int, error) {
	if _, err := s.loadDevice(ctx, s.DB, id, false); err != nil {
		return nil, 0, err
	}
	return audit.List(ctx, s.DB, audit.Filter{DeviceID: id}, page)
}
