package clients

import (
	"context"
	"strings"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/storage"
)

// Names returns the full names of the clients among ids that the actor may
// see, by id (a client they may not see, or that does not exist, is left
// out), for a page that lists records naming clients (loans, requests).
// The read is recorded as a list of clients is: one client.listed event
// naming the clients whose names were given.
func (s *Service) Names(ctx context.Context, actor *accounts.Actor, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID       int64  `bun:"id"`
		Personal string `bun:"personal"`
	}
	q := s.visible(s.DB, s.DB.NewSelect().Model((*Client)(nil)).Column("c.id", "c.personal").
		Where("c.id IN (?)", bun.In(ids)).OrderExpr("c.id"), actor)
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, storage.Err(err, "clients")
	}
	if len(rows) == 0 {
		return out, nil
	}
	shown := make([]int64, len(rows))
	for i, r := range rows {
		p := s.listed(r.ID, r.Personal)
		out[r.ID] = strings.TrimSpace(p.firstName + " " + p.lastName)
		shown[i] = r.ID
	}
	err := audit.Record(ctx, s.DB, audit.Event{OccurredAt: s.now(), ActorID: actor.IDPtr(), Action: "client.listed",
		SubjectType: "client_list"}, map[string]any{"client_ids": shown, "total": len(shown), "names_only": true})
	if err != nil {
		return nil, err
	}
	return out, nil
}
