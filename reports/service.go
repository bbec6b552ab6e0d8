package reports

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/currency"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/funding"
	"github.com/devicebank/devicebank/storage"
)

// MaxPeriodMonths bounds a report's period: three years.
const MaxPeriodMonths = 36

// MaxPostalPrefix is the longest postal prefix a report may be narrowed to.
const MaxPostalPrefix = 10

// Params are what a report is asked for.
type Params struct {
	From, To        calendar.Date
	FundingSourceID *int64
	Kind            string
	PostalPrefix    string
}

// Kinds are the device kinds a report may be narrowed to.
var Kinds = []string{"phone", "tablet", "laptop", "hotspot", "other"}

// ParseParams reads a report's query parameters, naming each bad one.
func ParseParams(from, to, fundingSourceID, kind, postalPrefix string) (Params, error) {
	var p Params
	var bad apperr.Fields
	var err error
	if from == "" {
		bad.Add("from", "is required: the first day, YYYY-MM-DD")
	} else if p.From, err = calendar.Parse(from); err != nil {
		bad.Add("from", err.Error())
	}
	if to == "" {
		bad.Add("to", "is required: the last day, YYYY-MM-DD")
	} else if p.To, err = calendar.Parse(to); err != nil {
		bad.Add("to", err.Error())
	}
	if !p.From.IsZero() && !p.To.IsZero() {
		switch {
		case p.To.Before(p.From):
			bad.Add("to", "must not be before from")
		case p.From.AddMonths(MaxPeriodMonths).Before(p.To):
			bad.Add("to", "must be at most three years after from")
		}
	}
	if fundingSourceID != "" {
		id, err := strconv.ParseInt(fundingSourceID, 10, 64)
		if err != nil || id <= 0 {
			bad.Add("funding_source_id", "must be a funding source id")
		} else {
			p.FundingSourceID = &id
		}
	}
	if kind != "" {
		if !contains(Kinds, kind) {
			bad.Add("kind", "must be one of "+strings.Join(Kinds, ", "))
		}
		p.Kind = kind
	}
	if postalPrefix != "" {
		p.PostalPrefix = strings.ToUpper(strings.TrimSpace(postalPrefix))
		if p.PostalPrefix == "" || len(p.PostalPrefix) > MaxPostalPrefix || strings.IndexFunc(p.PostalPrefix, notPostal) >= 0 {
			bad.Add("postal_prefix", "must be the start of a postal code: at most 10 letters, digits, spaces or hyphens")
		}
	}
	return p, bad.Err()
}

func notPostal(r rune) bool {
	return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '-')
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Service computes reports.
type Service struct {
	DB  *storage.DB
	Now func() time.Time
	// Location is the agency's time zone, in which a report's days run.
	Location *time.Location
	// Agency is the agency's name, on the PDF's cover, and Currency what
	// its money is written in.
	Agency   string
	Currency currency.Unit
	// AgencyOf, when set, is the agency's name and currency at use time
	// (an admin may change them); Agency and Currency are then unused.
	AgencyOf func(context.Context) (string, currency.Unit)
	// Funding says which funding sources an actor's figures may cover.
	Funding *funding.Service
	// Clients says which clients' case numbers the record export shows.
	Clients *clients.Service
	// Requests opens the requests' decisions (sealed) that the denials by
	// rule are counted from.
	Requests *eligibility.Service
}

// scopeFor decides which funding sources a report by actor counts: all
// (nil) for admins and coordinators unless they ask for one; for a funder,
// theirs only (an empty list when they have none), or the one of theirs
// they ask for. A source the actor may not see is refused as one that does
// not exist.
func (s *Service) scopeFor(ctx context.Context, actor *accounts.Actor, p Params) ([]FundingSource, error) {
	unknown := apperr.Fields{"funding_source_id": "no funding source you can see has this id"}.Err()
	scope, err := s.Funding.ScopeOf(ctx, actor)
	if err != nil {
		return nil, err
	}
	ids := scope.IDs
	switch {
	case p.FundingSourceID != nil:
		if !scope.All && !slices.Contains(scope.IDs, *p.FundingSourceID) {
			return nil, unknown
		}
		ids = []int64{*p.FundingSourceID}
	case scope.All:
		return nil, nil
	}
	out := make([]FundingSource, 0, len(ids))
	for _, id := range ids {
		name, ok, err := s.Funding.Name(ctx, s.DB, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, unknown
		}
		out = append(out, FundingSource{ID: id, Name: name})
	}
	return out, nil
}

// Utilization computes the utilization report p asks for, as actor may
// see it: a funder sees only the funding sources linked to them.
func (s *Service) Utilization(ctx context.Context, actor *accounts.Actor, p Params) (*Report, error) {
	r, err := s.compute(ctx, actor, p)
	if err != nil {
		return nil, err
	}
	suppress(r)
	return r, nil
}

// UtilizationPDF is the utilization report of the days from to to as actor
// may see it, drawn as a PDF: what a funder is emailed each month.
func (s *Service) UtilizationPDF(ctx context.Context, actor *accounts.Actor, from, to calendar.Date) ([]byte, error) {
	r, err := s.Utilization(ctx, actor, Params{From: from, To: to})
	if err != nil {
		return nil, err
	}
	return r.PDF()
}

// MaxFunderPostalPrefix is the longest postal prefix a funder may narrow
// a report to: an area, never a street.
const MaxFunderPostalPrefix = 3

// checkFunderParams refuses what would let a funder single a person out
// by comparing two reports: a period of other than whole months (one a day
// longer than another), or a postal prefix finer than an area.
func checkFunderParams(p Params) error {
	var bad apperr.Fields
	if p.From.Day != 1 {
		bad.Add("from", "must be the first day of a month: a funder's report covers whole months")
	}
	if p.To.AddDays(1).Day != 1 {
		bad.Add("to", "must be the last day of a month: a funder's report covers whole months")
	}
	if len(p.PostalPrefix) > MaxFunderPostalPrefix {
		bad.Add("postal_prefix", "must be at most 3 characters for a funder: an area, not a street")
	}
	return bad.Err()
}

// compute is the report before suppression: every figure as counted.
func (s *Service) compute(ctx context.Context, actor *accounts.Actor, p Params) (*Report, error) {
	if !actor.Can(accounts.ReadReports) {
		return nil, apperr.New(apperr.Forbidden, "your role may not read reports")
	}
	if actor.Role == accounts.Funder {
		if err := checkFunderParams(p); err != nil {
			return nil, err
		}
	}
	sources, err := s.scopeFor(ctx, actor, p)
	if err != nil {
		return nil, err
	}
	loc := calendar.Zone(s.Location)
	name, unit := s.Agency, s.Currency
	if s.AgencyOf != nil {
		name, unit = s.AgencyOf(ctx)
	}
	r := &Report{Agency: name, Currency: unit, Period: Period{From: p.From, To: p.To},
		Filters: Filters{FundingSources: sources, Kind: p.Kind, PostalPrefix: p.PostalPrefix}}
	if sources != nil {
		r.Filters.AgencyWide = []string{"access", "training"}
	}
	sc, err := newScope(ctx, sources, p.Kind, p.PostalPrefix, s.Clients)
	if err != nil {
		return nil, err
	}
	c := &computation{db: s.DB, report: r, scope: sc, requests: s.Requests,
		start: dayStart(p.From, loc), end: dayStart(p.To.AddDays(1), loc), now: s.Now().UTC(), loc: loc, to: p.To}
	// A period that has not ended is counted up to now: what is "at the
	// end" is what is so now, and nothing is assumed of the days to come.
	if c.now.Before(c.end) {
		// Just after now (the databases keep microseconds), so that what
		// happened at this very moment counts.
		c.end = c.now.Add(time.Microsecond)
		if c.end.Before(c.start) {
			c.end = c.start
		}
		if today := calendar.Today(c.now, loc); today.Before(c.to) {
			c.to = today
		}
	}
	if sources != nil && len(sources) == 0 {
		// A funder linked to no source: nothing to count.
		c.empty()
		return r, nil
	}
	if err := c.run(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// dayStart is the moment day d begins in loc.
func dayStart(d calendar.Date, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc).UTC()
}
