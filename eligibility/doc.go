// Package eligibility decides who qualifies for a device, by written,
// versioned rules, and explains every decision.
//
// A rule set (RuleSet) is data: a tree of all_of / any_of groups over
// checks such as household income against a poverty guideline, enrolment
// in benefit programs, recent proof, open-loan limits per client or
// household, recent losses, waiting periods, age, postal area and needs
// flags. Evaluate is a pure function of a client's situation, the request,
// the client's lending history, the rule set and the decision date; it
// returns eligible, ineligible or needs_review with one readable reason
// per rule. Guideline tables (Guideline) ship as data with their source and
// thresholds are computed from them.
package eligibility
