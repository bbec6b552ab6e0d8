package reports

import (
	"context"

	"github.com/devicebank/devicebank/accounts"
)

// Unsuppressed is the report before suppression, so that tests can check
// every figure as counted; the product never shows it.
func (s *Service) Unsuppressed(ctx context.Context, actor *accounts.Actor, p Params) (*Report, error) {
	return s.compute(ctx, actor, p)
}
