// Package notifications sends reminders: loans due soon, due today and
// overdue (with escalation to the social worker and the coordinators),
// training sessions coming up or cancelled, data plans ending, and the
// coordinators' daily digest, by SMS or email, in the client's language;
// and each funder's monthly utilization report, by email with the PDF
// attached (report.go).
//
//   - policy.go: what is sent when, set by an admin (Policy), with quiet
//     hours in the agency's time zone.
//   - sweep.go: the sweep turns loans, sessions and plans into outbox rows
//     with one INSERT … SELECT … ON CONFLICT (dedup_key) DO NOTHING per
//     policy step, so it is set-based and idempotent.
//   - outbox.go: every notification is a row with a unique dedup key;
//     dispatchers claim due rows (FOR UPDATE SKIP LOCKED on PostgreSQL) for
//     a lease, send them, and retry failures with backoff before marking
//     them failed. A dispatcher that dies leaves claims that expire.
//   - compose.go: just before sending, the facts are read again; what no
//     longer applies is cancelled, what falls in quiet hours waits, and the
//     message is written from templates.go (clients) or the staff template.
//   - service.go: the policy, "remind now", the outbox list, STOP replies,
//     and the hooks inventory and training call inside their transactions
//     (a loan closed or renewed, a session cancelled, a place ended).
//   - email.go, sms.go: the SMTP and Twilio-compatible channels; LogChannel
//     for development.
//   - report.go: the funders' monthly report: one row per funder and month,
//     the PDF drawn by the Reports interface just before sending, never
//     stored.
//   - schedule.go: the cron jobs serve runs.
//
// Templates can only use a Message, which holds nothing sensitive: a first
// name, the agency, the device's label, dates. Staff notes name records by
// number only.
package notifications
