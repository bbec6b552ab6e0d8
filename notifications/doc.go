// Package notifications will send reminders: due-soon and overdue loans,
// training sessions, data plans ending, through an outbox delivered by SMS
// or email on a cron schedule.
//
// It is empty in this release; the reminders work fills it.
package notifications
