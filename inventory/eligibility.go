package inventory

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/storage"
)

// EligibilityHistory is a client's record with the lending program, as the
// eligibility rules see it: open loans by device kind for the client and
// for their household, unrecovered losses, and when the last loan ended.
// Dates are days in the agency's time zone.
func (s *Service) EligibilityHistory(ctx context.Context, db bun.IDB, clientID int64, household []int64) (eligibility.History, error) {
	h := eligibility.History{OpenLoans: map[string]int{}, HouseholdOpenLoans: map[string]int{}}
	if len(household) == 0 {
		household = []int64{clientID}
	}
	var open []struct {
		ClientID int64  `bun:"client_id"`
		Kind     string `bun:"kind"`
	}
	err := db.NewSelect().TableExpr("loans AS l").ColumnExpr("l.client_id, l.device_kind AS kind").
		Where("l.status = ? AND l.client_id IN (?)", LoanOpen, bun.In(household)).Scan(ctx, &open)
	if err != nil {
		return h, storage.Err(err, "loans")
	}
	for _, o := range open {
		h.HouseholdOpenLoans[o.Kind]++
		if o.ClientID == clientID {
			h.OpenLoans[o.Kind]++
		}
	}
	var ended []struct {
		Status      LoanStatus `bun:"status"`
		ReturnedAt  *time.Time `bun:"returned_at"`
		LostAt      *time.Time `bun:"lost_at"`
		RecoveredAt *time.Time `bun:"recovered_at"`
	}
	err = db.NewSelect().TableExpr("loans").Column("status", "returned_at", "lost_at", "recovered_at").
		Where("client_id = ? AND status <> ?", clientID, LoanOpen).Scan(ctx, &ended)
	if err != nil {
		return h, storage.Err(err, "loans")
	}
	for _, e := range ended {
		end := e.ReturnedAt
		if e.Status == LoanLost {
			end = e.LostAt
			if e.RecoveredAt == nil && e.LostAt != nil {
				h.UnresolvedLosses = append(h.UnresolvedLosses, calendar.In(*e.LostAt, s.Location))
			}
		}
		if end != nil {
			if d := calendar.In(*end, s.Location); h.LastLoanEndedOn.IsZero() || d.After(h.LastLoanEndedOn) {
				h.LastLoanEndedOn = d
			}
		}
	}
	return h, nil
}
