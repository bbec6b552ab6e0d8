// Package notifications sends reminders: due-soon and overdue loans,
// training sessions, data plans ending, through an outbox delivered by SMS
// or email on a cron schedule.
//
// So far it holds the messages and the outbox:
//
//   - short templates in English, Spanish and French, rendered from a
//     Message that can only carry what a reminder may say (a first name, the
//     agency, the device's label, dates), never a surname, income, programs
//     or case details;
//   - the outbox: every notification is a row with a unique dedup key;
//     dispatchers claim due rows (FOR UPDATE SKIP LOCKED on PostgreSQL) for
//     a lease, send them through a Channel, and retry failures with backoff
//     before marking them failed. A dispatcher that dies leaves claims that
//     expire, so nothing is missed.
//
// The sweep that creates reminders from loans and sessions, the cron
// schedules, SMTP and SMS channels and the API come next.
package notifications
