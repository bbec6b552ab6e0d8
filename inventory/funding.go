package inventory

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/optional"
)

// maxFundingNameLength is the longest funding source name; a longer one
// names none.
const maxFundingNameLength = 200

// fundingID checks the funding source id given in field: null for none,
// or a source that exists. It returns the id and the source's name.
func (s *Service) fundingID(ctx context.Context, db bun.IDB, bad *apperr.Fields, field string, f optional.Field[int64]) (*int64, string, error) {
	if f.Null {
		return nil, "", nil
	}
	name, ok, err := s.Funding.Name(ctx, db, f.Value)
	if err != nil {
		return nil, "", err
	}
	bad.Check(!ok, field, "no funding source has this id (GET /api/v1/funding-sources lists them)")
	id := f.Value
	return &id, name, nil
}

// fundDevice applies a device input's funding source to d: by
// funding_source_id, or by funding_source, the source's name, which
// scripts sent when it was the device's own text. An unknown name is
// refused rather than made into a source: sources are an admin's to add.
func (s *Service) fundDevice(ctx context.Context, db bun.IDB, in DeviceInput, d *Device) error {
	var bad apperr.Fields
	if in.FundingSourceID.Set {
		id, name, err := s.fundingID(ctx, db, &bad, "funding_source_id", in.FundingSourceID)
		if err != nil {
			return err
		}
		d.FundingSourceID, d.FundingSource = id, name
	}
	if in.FundingSource == nil {
		return bad.Err()
	}
	name := strings.TrimSpace(*in.FundingSource)
	bad.MaxLength("funding_source", name, maxFundingNameLength)
	var id int64
	var canonical string
	if name != "" && len([]rune(name)) <= maxFundingNameLength {
		var err error
		if id, canonical, err = s.Funding.Named(ctx, db, name); err != nil {
			return err
		}
		bad.Check(id == 0, "funding_source", fmt.Sprintf("no funding source is named %q: send funding_source_id, "+
			"the id of a funding source (GET /api/v1/funding-sources lists them; an admin adds them)", name))
	}
	switch {
	case name != "" && id == 0:
	case in.FundingSourceID.Set && (id == 0) != in.FundingSourceID.Null,
		in.FundingSourceID.Set && !in.FundingSourceID.Null && id != in.FundingSourceID.Value:
		bad.Add("funding_source", "names another funding source than funding_source_id does: send funding_source_id alone")
	case id == 0:
		d.FundingSourceID, d.FundingSource = nil, ""
	default:
		d.FundingSourceID, d.FundingSource = &id, canonical
	}
	return bad.Err()
}

// fundPlan applies a data plan input's funding source to p.
func (s *Service) fundPlan(ctx context.Context, db bun.IDB, in DataPlanInput, p *DataPlan) error {
	if !in.FundingSourceID.Set {
		return nil
	}
	var bad apperr.Fields
	id, _, err := s.fundingID(ctx, db, &bad, "funding_source_id", in.FundingSourceID)
	if err != nil {
		return err
	}
	p.FundingSourceID = id
	return bad.Err()
}

// withFundingName makes q (over devices AS d) read each device's funding
// source name as well as its columns.
func (s *Service) withFundingName(db bun.IDB, q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("?TableColumns").ColumnExpr("(?) AS funding_source_name", s.Funding.NameQuery(db, "d.funding_source_id"))
}
