package agreements_test

import (
	"testing"

	"github.com/devicebank/devicebank/agreements"
)

// The shipped terms are what an admin could have saved: they pass the same
// checks, unchanged, and every language has the same paragraphs.
func TestShippedTermsAreValidTerms(t *testing.T) {
	en, _ := agreements.Shipped("en")
	want := len((&agreements.Terms{Body: en}).Paragraphs())
	for _, lang := range []string{"en", "es", "fr"} {
		body, ok := agreements.Shipped(lang)
		if !ok {
			t.Fatalf("no %s terms ship", lang)
		}
		checked, err := agreements.CheckBody(body)
		if err != nil || checked != body {
			t.Errorf("%s terms: %v, or changed by the checks", lang, err)
		}
		if n := len((&agreements.Terms{Body: body}).Paragraphs()); n != want || n < 8 {
			t.Errorf("%s terms have %d paragraphs, the English %d", lang, n, want)
		}
	}
	if _, ok := agreements.Shipped("de"); ok {
		t.Error("Shipped reports German terms, but none ship")
	}
}
