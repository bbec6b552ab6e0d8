package inventory

import "testing"

func TestValidIMEI(t *testing.T) {
	for imei, want := range map[string]bool{
		"356938035643809":  true,  // a published example
		"490154203237518":  true,  // another
		"356938035643808":  false, // wrong check digit
		"35693803564380":   false, // 14 digits
		"3569380356438090": false, // 16 digits
		"35693803564380X":  false,
		"":                 false,
	} {
		if got := validIMEI(imei); got != want {
			t.Errorf("validIMEI(%q) = %v, want %v", imei, got, want)
		}
	}
}
