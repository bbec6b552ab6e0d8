// Package notifications sends reminders: due-soon and overdue loans,
// training sessions, data plans ending, through an outbox delivered by SMS
// or email on a cron schedule.
//
// So far it holds the messages: short templates in English, Spanish and
// French, rendered from a Message that can only carry what a reminder may
// say (a first name, the agency, the device's label, dates), never a
// surname, income, programs or case details. The outbox, the schedules
// and the delivery channels come next.
package notifications
