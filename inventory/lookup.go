package inventory

import (
	"context"
	"strings"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/storage"
)

// DefaultLoanDays is how long a loan runs unless the coordinator issuing
// it chooses another due date: the issue page offers today plus these
// days. The API has no default; it requires a due date.
const DefaultLoanDays = 90

// DefaultDueOn is the due date a new loan is offered: DefaultLoanDays
// after today, in the agency's time zone.
func (s *Service) DefaultDueOn() calendar.Date { return s.today().AddDays(DefaultLoanDays) }

// DeviceByTag returns the device whose asset tag is tag, as a scanner
// reads it from a label or a person types it: surrounding space is
// ignored, and so is case when only one device matches without it.
// NotFound when no device has the tag.
func (s *Service) DeviceByTag(ctx context.Context, tag string) (*Device, error) {
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return nil, apperr.New(apperr.NotFound, "device not found")
	}
	var ids []int64
	err := s.DB.NewSelect().Model((*Device)(nil)).Column("d.id").Where("d.asset_tag = ?", tag).Limit(1).Scan(ctx, &ids)
	if err == nil && len(ids) == 0 {
		err = s.DB.NewSelect().Model((*Device)(nil)).Column("d.id").
			Where("LOWER(d.asset_tag) = ?", strings.ToLower(tag)).Limit(2).Scan(ctx, &ids)
	}
	if err != nil {
		return nil, storage.Err(err, "device")
	}
	if len(ids) != 1 {
		return nil, apperr.New(apperr.NotFound, "device not found")
	}
	return s.loadDevice(ctx, s.DB, ids[0], false)
}
