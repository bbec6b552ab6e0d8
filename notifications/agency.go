package notifications

import "context"

// agency is who reminders come from now.
func (s *Service) agency(ctx context.Context) Agency {
	if s.AgencyOf != nil {
		return s.AgencyOf(ctx)
	}
	return s.Agency
}
