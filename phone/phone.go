// Package phone reads the phone numbers people type and writes them in
// E.164 (+13125550100), the one form DeviceBank stores and matches, using
// libphonenumber's rules (github.com/nyaruka/phonenumbers): which country
// codes exist, how long their numbers are, which ranges are in use.
package phone

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the country a number without a country code is read
// in, unless the agency sets another: agencies are US-based.
const DefaultRegion = "US"

// ErrInvalid is a number that is not a phone number in use.
var ErrInvalid = errors.New("not a valid phone number")

// Normalize reads raw, written with its country code (+44 20 7946 0958) or
// as a national number of region ((312) 555-0100 in the US), and returns it
// in E.164. Only ASCII digits, a leading +, spaces, dashes, dots and
// brackets are accepted: libphonenumber would otherwise read letters as a
// keypad ("312 555 O100" as 312 555 6100) and words as an extension, and a
// wrong number is worse than a refused one. The number must be valid for
// its country, not merely of a possible length.
func Normalize(raw, region string) (string, error) {
	s := strings.TrimSpace(raw)
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9', strings.ContainsRune("-() .", r):
		case r == '+' && i == 0:
		default:
			return "", ErrInvalid
		}
	}
	n, err := phonenumbers.Parse(s, RegionOrDefault(region))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", ErrInvalid
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// IsE164 reports whether s is written in E.164: + and 7 to 15 digits, the
// first not 0. It says nothing of whether the number exists.
func IsE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// RegionOrDefault is region in upper case, or DefaultRegion when empty.
func RegionOrDefault(region string) string {
	if region == "" {
		return DefaultRegion
	}
	return strings.ToUpper(region)
}

// Example is a number of region written as its people write it, for
// messages that ask for one: (201) 555-0123 in the US.
func Example(region string) string {
	n := phonenumbers.GetExampleNumber(RegionOrDefault(region))
	if n == nil {
		return "+1 201 555 0123"
	}
	return phonenumbers.Format(n, phonenumbers.NATIONAL)
}

// KnownRegion reports whether region is a two-letter country code
// libphonenumber has numbering rules for (US, CA, MX, GB …), in any case.
func KnownRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[strings.ToUpper(region)]
}
