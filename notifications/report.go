package notifications

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/storage"
)

// Funders receive last month's utilization report by email, with the PDF
// attached. FunderReports enqueues one row per active funder with an email
// address and month; its dedup key holds the month and the user, so the
// job may run any number of times, in any number of instances, and each
// funder still gets one email a month. The row holds no report: the PDF is
// drawn just before sending, as the funder may see it then (the funding
// sources linked to them at that moment), for the month in about_date.

// Reports draws the utilization report a funder receives (reports.Service).
type Reports interface {
	// UtilizationPDF is the utilization report of the days from to to
	// (inclusive, agency time) as actor may see it, as a PDF.
	UtilizationPDF(ctx context.Context, actor *accounts.Actor, from, to calendar.Date) ([]byte, error)
}

// ReportMonth is the month whose report goes out at now: the calendar
// month before the one now falls in, in loc. It returns its first and last
// days.
func ReportMonth(now time.Time, loc *time.Location) (first, last calendar.Date) {
	today := calendar.Today(now, loc)
	start := time.Date(today.Year, today.Month, 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	return calendar.Of(start), calendar.Of(start.AddDate(0, 1, -1))
}

// FunderReports enqueues last month's report for each active funder who
// has an email address, once per funder and month however often it runs.
// A funder linked to no funding source gets it too: the report is then
// empty and says that no source is linked, which tells them to ask the
// agency.
func (s *Service) FunderReports(ctx context.Context) (SweepResult, error) {
	now := s.Now().UTC()
	first, _ := ReportMonth(now, s.Location)
	month := fmt.Sprintf("%04d-%02d", first.Year, first.Month)
	res, err := s.DB.ExecContext(ctx, insertColumns+`SELECT ?, 'funder_report:' || ? || ':user:' || CAST(u.id AS TEXT),
		'funder', NULL, NULL, u.id, NULL, NULL, 'email', u.email, 'en', '', NULL, 'pending', ?, ?, 0, '', ?, NULL, NULL, ?, ?
		FROM users u WHERE u.active AND u.role = 'funder' AND u.email <> ''
		ON CONFLICT (dedup_key) DO NOTHING`, FunderReport, month, now, now, first, now, now)
	if err != nil {
		return SweepResult{}, storage.Err(err, "funder reports")
	}
	n, _ := res.RowsAffected()
	return SweepResult{Created: int(n)}, nil
}

// composeFunderReport writes a funder's email and draws the PDF of the
// month in n.AboutDate, as the funder may see it now.
func (s *Service) composeFunderReport(ctx context.Context, n *Notification, f *facts) error {
	if s.Reports == nil {
		return errors.New("compose funder_report: no report service")
	}
	first := n.AboutDate
	last := calendar.Of(first.Time().AddDate(0, 1, -1))
	funder := &accounts.Actor{ID: *n.UserID, Name: f.UserName, Role: accounts.Funder}
	pdf, err := s.Reports.UtilizationPDF(ctx, funder, first, last)
	if err != nil {
		return fmt.Errorf("compose funder_report: %w", err)
	}
	month := first.Time().Format("January 2006")
	n.Address = f.UserEmail
	agencyName := s.agency(ctx).Name
	n.Subject = fmt.Sprintf("%s DeviceBank: utilization report for %s", agencyName, month)
	n.Body = fmt.Sprintf("The DeviceBank utilization report for %s is attached. It covers the funding sources "+
		"linked to your account at %s.", month, agencyName)
	n.Attachments = []Attachment{{Name: "utilization-" + first.String() + "-to-" + last.String() + ".pdf",
		ContentType: "application/pdf", Data: pdf}}
	return nil
}
