package inventory

import "context"

// agencyName is the agency's name as printed now.
func (s *Service) agencyName(ctx context.Context) string {
	if s.AgencyOf != nil {
		return s.AgencyOf(ctx)
	}
	return s.Agency
}
