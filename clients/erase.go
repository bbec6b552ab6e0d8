package clients

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// MaxEraseReason bounds the reason an erasure is recorded with.
const MaxEraseReason = 500

// OpenRequestStatuses are the device requests that still wait for
// something: a client with one is not erased (eligibility's open statuses).
var OpenRequestStatuses = []string{"submitted", "approved", "needs_review", "waitlisted", "ready"}

// CheckEraseReason notes in bad what is wrong with the reason given for an
// erasure (trimmed), as Erase checks it, for a form that checks more.
func CheckEraseReason(bad *apperr.Fields, reason string) {
	bad.Check(reason == "", "reason", "is required: say why the client is erased (such as: the client asked on 2026-12-01)")
	bad.MaxLength("reason", reason, MaxEraseReason)
	bad.Check(strings.ContainsFunc(reason, unicode.IsControl), "reason", "must be one line of text, without control characters")
}

// Erase erases a client now, at an admin's request (the client asked for
// it): as Anonymise does, recorded with who did it and why. It is refused
// while a device is out to the client, a request of theirs is open, or they
// hold a place in a training session to come, whose handling needs to know
// who they are.
func (s *Service) Erase(ctx context.Context, actor *accounts.Actor, id int64, reason string) error {
	if !actor.Can(accounts.ManageUsers) {
		return apperr.New(apperr.Forbidden, "only an admin can erase a client")
	}
	reason = strings.TrimSpace(reason)
	var bad apperr.Fields
	CheckEraseReason(&bad, reason)
	if err := bad.Err(); err != nil {
		return err
	}
	return storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		c, err := s.load(ctx, tx, actor, id, true)
		if err != nil {
			return err
		}
		loans, err := tx.NewSelect().Table("loans").Where("client_id = ? AND status = 'open'", id).Count(ctx)
		if err != nil {
			return storage.Err(err, "loans")
		}
		requests, err := tx.NewSelect().Table("device_requests").Where("client_id = ? AND status IN (?)", id, bun.In(OpenRequestStatuses)).Count(ctx)
		if err != nil {
			return storage.Err(err, "requests")
		}
		places, err := tx.NewSelect().TableExpr("training_enrollments AS e").Join("JOIN training_sessions AS ts ON ts.id = e.session_id").
			Where("e.client_id = ? AND e.status IN ('enrolled', 'waitlisted') AND ts.status = 'scheduled' AND ts.ends_at > ?", id, s.now()).
			Count(ctx)
		if err != nil {
			return storage.Err(err, "training places")
		}
		switch {
		case loans > 0:
			return apperr.New(apperr.Conflict, "client %d has %d device(s) out: erase them once the loans are closed (returned or lost)", id, loans)
		case requests > 0:
			return apperr.New(apperr.Conflict, "client %d has %d open device request(s): cancel them first", id, requests)
		case places > 0:
			return apperr.New(apperr.Conflict, "client %d holds %d place(s) in training sessions to come: withdraw them first", id, places)
		}
		now := s.now()
		erased, err := s.Anonymise(ctx, tx, []int64{id}, now)
		if err != nil {
			return err
		}
		if len(erased) == 0 {
			return apperr.New(apperr.Conflict, "client %d was lent a device or asked one for meanwhile: erase them once that is closed", id)
		}
		return audit.Record(ctx, tx, event(actor, now, "client.erased", c), map[string]any{"reason": reason})
	})
}

// Anonymise erases the clients ids within tx, at now, and returns those it
// erased (a client erased already, or with a device out, is passed by): their sealed record,
// lookup digests and search digests go, their channel becomes none; what
// reports count stays (birth year, postal prefix, household, needs, loans,
// requests, training). With them go the texts about them: their
// reminders' texts, addresses and notes (pending ones are cancelled), the
// notes on their loans, and their requests' free-text reason and
// justification, and their requests' decisions keep the rules' outcomes
// without the reasons that quote them (Requests.Redact). Their audit events, which name fields and never values,
// stay; signed loan agreements, which are never changed, stay too
// (docs/privacy.md).
func (s *Service) Anonymise(ctx context.Context, tx bun.IDB, ids []int64, now time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	now = now.UTC()
	var erased []int64
	err := tx.NewUpdate().Table("clients").
		Set("personal = ''").Set("personal_key = NULL").Set("case_number_index = NULL").Set("phone_index = NULL").Set("email_index = NULL").
		Set("search_case = NULL").Set("search_first = NULL").Set("search_last = NULL").
		Set("preferred_channel = 'none'").Set("anonymised_at = ?", now).Set("updated_at = ?", now).
		Where("id IN (?) AND anonymised_at IS NULL", bun.In(ids)).
		// Checked again in the statement: a loan issued since the caller
		// looked keeps its client.
		Where("NOT EXISTS (SELECT 1 FROM loans l WHERE l.client_id = clients.id AND l.status = 'open')").
		Where("NOT EXISTS (SELECT 1 FROM device_requests r WHERE r.client_id = clients.id AND r.status IN (?))", bun.In(OpenRequestStatuses)).
		Returning("id").Scan(ctx, &erased)
	if err != nil {
		return nil, storage.Err(err, "clients")
	}
	if len(erased) == 0 {
		return nil, nil
	}
	in := bun.In(erased)
	steps := []*bun.UpdateQuery{
		tx.NewUpdate().Table("notifications").Set("status = 'cancelled'").Set("updated_at = ?", now).
			Where("client_id IN (?) AND status = 'pending'", in),
		tx.NewUpdate().Table("notifications").
			Set("body = ''").Set("address = ''").Set("note = ''").Set("sealed_key = NULL").Set("last_error = ''").Set("erased_at = ?", now).
			Where("client_id IN (?)", in), // one being sent too: the outbox keeps no text of a row erased
		tx.NewUpdate().Table("loans").Set("notes = ''").Set("return_notes = ''").Set("lost_notes = ''").Set("sealed_key = NULL").
			Where("client_id IN (?)", in),
	}
	for _, q := range steps {
		if _, err := q.Exec(ctx); err != nil {
			return nil, storage.Err(err, "client")
		}
	}
	if err := s.Requests.Redact(ctx, tx, erased); err != nil {
		return nil, err
	}
	// Their names leave this instance's memory now; another instance's
	// never match the erased record again, and age out.
	s.forget(erased)
	return erased, nil
}
