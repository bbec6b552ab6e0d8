// Package eligibility will decide who qualifies for a device, by written,
// versioned rules: rule sets, poverty-guideline tables, the evaluator that
// explains each decision, device requests and the waitlist.
//
// It is empty in this release: devices are lent by coordinators directly
// (see package inventory). The rules arrive with the eligibility work.
package eligibility
