package phone

import "testing"

func TestNormalize(t *testing.T) {
	cases := []struct {
		raw, region, want string
	}{
		{"+1 312-555-0100", "US", "+13125550100"},
		{"(312) 555-0100", "US", "+13125550100"},
		{"312.555.0100", "", "+13125550100"}, // the default region is the US
		{"1 312 555 0100", "US", "+13125550100"},
		{" 3125550100 ", "US", "+13125550100"},
		{"+44 20 7946 0958", "US", "+442079460958"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"020 7946 0958", "gb", "+442079460958"},
		{"+52 55 1234 5678", "US", "+525512345678"},
		{"+31 20 555 0100", "US", "+31205550100"},
		// Refused: not a number in use, or not written as one.
		{"+3125550100", "US", ""},     // +31 with too few digits for the Netherlands
		{"+1 555 222 3333", "US", ""}, // no area code 555
		{"555-0100", "US", ""},        // seven digits: no area code
		{"1125550100", "US", ""},      // no North American area code starts with 1
		{"0412 345 678", "US", ""},    // an Australian mobile, written nationally
		{"+1 312 555 O100", "US", ""}, // a letter O, not read as a keypad
		{"312 555 0100 ext 2", "US", ""},
		{"+1312555010012345", "US", ""},
		{"1+312 555 0100", "US", ""},
		{"", "US", ""},
		{"+１３１２５５５０１００", "US", ""}, // full-width digits
	}
	for _, c := range cases {
		got, err := Normalize(c.raw, c.region)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", c.raw, c.region, got, err, c.want)
		}
	}
}

func TestIsE164(t *testing.T) {
	for s, want := range map[string]bool{"+13125550100": true, "+442079460958": true, "13125550100": false,
		"+1 312 555 0100": false, "+0123456789": false, "+123456": false, "+1234567890123456": false, "": false} {
		if got := IsE164(s); got != want {
			t.Errorf("IsE164(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestKnownRegion(t *testing.T) {
	for r, want := range map[string]bool{"US": true, "ca": true, "MX": true, "GB": true, "XX": false, "": false, "USA": false} {
		if got := KnownRegion(r); got != want {
			t.Errorf("KnownRegion(%q) = %v, want %v", r, got, want)
		}
	}
}

func TestExample(t *testing.T) {
	for region, want := range map[string]string{"": "(201) 555-0123", "US": "(201) 555-0123", "gb": "0121 234 5678"} {
		if got := Example(region); got != want {
			t.Errorf("Example(%q) = %q, want %q", region, got, want)
		}
	}
}
