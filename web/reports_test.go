package web_test

import (
	"strings"
	"testing"

	"github.com/devicebank/devicebank/accounts"
)

const utilizationURL = v1 + "/reports/utilization"

// Bad report parameters are each named in one 422.
func TestUtilizationReportBadParameters(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		for query, fields := range map[string][]string{
			"":                               {"from", "to"},
			"?from=2026-02-30&to=2026-03-01": {"from"},
			"?from=2026-03-01&to=2026-02-01": {"to"},
			"?from=2023-01-01&to=2026-01-03": {"to"},
			"?from=2026-01-01&to=soon":       {"to"},
			"?from=2026-01-01&to=2026-01-31&kind=drone&postal_prefix=60%25&format=xlsx&funding_source_id=x": {"kind", "postal_prefix", "format", "funding_source_id"},
			"?from=2026-01-01&to=2026-01-31&postal_prefix=12345678901":                                      {"postal_prefix"},
			"?from=2026-01-01&to=2026-01-31&funding_source_id=999":                                          {"funding_source_id"},
		} {
			r := e.do(co, "GET", utilizationURL+query, nil)
			expectError(t, r, 422, "invalid", fields...)
			expectFieldsExactly(t, r, fields...)
		}
		// Three years to the day is allowed.
		e.must(200, co, "GET", utilizationURL+"?from=2023-01-01&to=2026-01-01", nil)
	})
}

// A funder linked to no funding source sees an empty report, whatever the
// agency lent; a social worker sees none.
func TestUtilizationReportOfAFunderWithNoSource(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, co := e.user(accounts.Coordinator)
		_, sw := e.user(accounts.SocialWorker)
		_, funder := e.user(accounts.Funder)
		e.loan(co, e.referred(sw), e.device(co, "laptop"))
		q := "?from=2026-03-01&to=2026-03-31"
		if got := e.must(200, co, "GET", utilizationURL+q, nil).JSON(t)["use"].(map[string]any)["loans_issued"]; got != float64(1) {
			t.Errorf("a coordinator's report counts %v loans, want 1", got)
		}
		r := e.must(200, funder, "GET", utilizationURL+q, nil)
		body := string(r.Body)
		for _, want := range []string{`"funding_sources":[]`, `"loans_issued":0`, `"clients_served":0`, `"devices_at_end":0`, `"requests_received":0`} {
			if !strings.Contains(body, want) {
				t.Errorf("the empty report has no %s:\n%s", want, body)
			}
		}
		expectError(t, e.do(sw, "GET", utilizationURL+q, nil), 403, "forbidden")
	})
}
