package clients_test

import (
	"testing"
	"time"

	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/clients"
)

// Validate reports every field Create would refuse, without a database.
func TestValidateReportsEveryField(t *testing.T) {
	s := &clients.Service{Now: func() time.Time { return time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC) }}
	str := func(v string) *string { return &v }
	ch, size := clients.SMS, 0
	err := s.Validate(clients.Input{CaseNumber: str("C-1"), FirstName: str(""), LastName: str("Okafor"),
		PreferredChannel: &ch, HouseholdSize: &size})
	e, ok := err.(*apperr.Error)
	if !ok || e.Code != apperr.Invalid || e.Fields["first_name"] == "" || e.Fields["household_size"] == "" || e.Fields["phone"] == "" {
		t.Fatalf("Validate: %v", err)
	}
	size = 2
	if err := s.Validate(clients.Input{CaseNumber: str("C-1"), FirstName: str("Amara"), LastName: str("Okafor"),
		Phone: str("+1 312 555 0142"), PreferredChannel: &ch, HouseholdSize: &size}); err != nil {
		t.Errorf("a good input: %v", err)
	}
}
