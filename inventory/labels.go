package inventory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/storage"
)

// MaxLabels is the most devices one request prints labels for.
const MaxLabels = 300

// Labels draws a sheet of asset labels for the devices ids, in that order,
// on paper; several pages when one sheet does not hold them. Devices that
// do not exist, or whose asset tag Code 128 cannot encode, are named in an
// Invalid error on "ids" and nothing is drawn.
func (s *Service) Labels(ctx context.Context, ids []int64, paper documents.Paper) ([]byte, error) {
	var devices []Device
	if err := s.DB.NewSelect().Model(&devices).Column("id", "asset_tag", "updated_at").
		Where("d.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, storage.Err(err, "devices")
	}
	byID := make(map[int64]Device, len(devices))
	for _, d := range devices {
		byID[d.ID] = d
	}
	var unknown, unprintable []string
	labels := make([]documents.Label, 0, len(ids))
	var date time.Time
	for _, id := range ids {
		d, ok := byID[id]
		switch {
		case !ok:
			unknown = append(unknown, strconv.FormatInt(id, 10))
		case !printableASCII(d.AssetTag):
			unprintable = append(unprintable, strconv.FormatInt(id, 10))
		default:
			labels = append(labels, documents.Label{Agency: s.agencyName(ctx), Tag: d.AssetTag})
			if d.UpdatedAt.After(date) {
				date = d.UpdatedAt
			}
		}
	}
	if len(unknown) > 0 {
		return nil, apperr.Fields{"ids": "no device has the id " + strings.Join(unknown, ", ")}.Err()
	}
	if len(unprintable) > 0 {
		return nil, apperr.Fields{"ids": "the asset tag of device " + strings.Join(unprintable, ", ") +
			" has characters a Code 128 barcode cannot hold (only ASCII prints)"}.Err()
	}
	// The sheet's date is the newest change to a labelled device, so the
	// same devices print the same bytes.
	return documents.Labels(paper, labels, date.UTC())
}

// ParseLabelRequest reads the ids (comma-separated device ids, at most
// MaxLabels, none twice) and paper ("letter", the default, or "a4") of a
// label sheet, naming every bad parameter.
func ParseLabelRequest(ids, paper string) ([]int64, documents.Paper, error) {
	var bad apperr.Fields
	p := documents.Letter
	switch paper {
	case "", "letter":
	case "a4":
		p = documents.A4
	default:
		bad.Add("paper", "must be letter or a4")
	}
	var out []int64
	parts := strings.Split(ids, ",")
	switch {
	case strings.TrimSpace(ids) == "":
		bad.Add("ids", "is required: the comma-separated ids of the devices to label")
	case len(parts) > MaxLabels:
		bad.Add("ids", fmt.Sprintf("at most %d devices per sheet request; %d were given", MaxLabels, len(parts)))
	default:
		for _, part := range parts {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id < 1 {
				bad.Add("ids", fmt.Sprintf("must be comma-separated device ids; %q is not one", part))
				break
			}
			if slices.Contains(out, id) {
				bad.Add("ids", fmt.Sprintf("device %d is listed twice", id))
				break
			}
			out = append(out, id)
		}
	}
	if err := bad.Err(); err != nil {
		return nil, "", err
	}
	return out, p, nil
}

func printableASCII(s string) bool {
	for _, r := range s {
		if r < ' ' || r > '~' {
			return false
		}
	}
	return s != ""
}
