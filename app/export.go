package app

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/eligibility"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/notifications"
	"github.com/devicebank/devicebank/storage"
	"github.com/devicebank/devicebank/training"
)

// ClientExport is everything DeviceBank holds about one client, for an
// access request (docs/privacy.md): the record, every loan, device request,
// training place and notification, the client's history (every change and
// every read of the record, with who and when), and the list reads that
// showed them.
type ClientExport struct {
	ExportedAt    time.Time                    `json:"exported_at"`
	ExportedBy    int64                        `json:"exported_by"`
	Client        clients.Client               `json:"client"`
	Loans         []inventory.Loan             `json:"loans"`
	Requests      []eligibility.DeviceRequest  `json:"requests"`
	Training      []training.Enrollment        `json:"training"`
	Notifications []notifications.Notification `json:"notifications"`
	History       []audit.Event                `json:"history"`
	// Listed are the list reads that showed the client (their name among
	// others): who saw them in a list, and when.
	Listed []audit.Event `json:"listed"`
}

// ExportClient gathers everything held about a client for their caseworker
// or an admin, from one snapshot of the database (its parts agree), and
// records the export in the client's history.
func (s *Services) ExportClient(ctx context.Context, actor *accounts.Actor, id int64) (*ClientExport, error) {
	out := &ClientExport{ExportedBy: actor.ID}
	err := storage.InSnapshot(ctx, s.DB, func(tx bun.Tx) error {
		c, err := s.Clients.ForExport(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		out.Client = *c
		if out.Loans, err = s.Inventory.LoansOfClient(ctx, tx, id); err != nil {
			return err
		}
		if out.Requests, err = s.Eligibility.RequestsOfClient(ctx, tx, id); err != nil {
			return err
		}
		if out.Training, err = s.Training.EnrollmentsOfClient(ctx, tx, id); err != nil {
			return err
		}
		if out.Notifications, err = s.Notifications.OfClient(ctx, tx, id); err != nil {
			return err
		}
		if out.History, err = audit.All(ctx, tx, audit.Filter{ClientID: id}); err != nil {
			return err
		}
		if out.Listed, err = audit.ListedWith(ctx, tx, id); err != nil {
			return err
		}
		out.ExportedAt = s.Clients.Now().UTC()
		return s.Clients.Exported(ctx, tx, actor, c, map[string]any{"loans": len(out.Loans), "requests": len(out.Requests),
			"training": len(out.Training), "notifications": len(out.Notifications), "history": len(out.History), "listed": len(out.Listed)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
