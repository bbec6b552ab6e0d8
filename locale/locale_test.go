package locale

import (
	"testing"
	"time"
)

func TestFormatDateInEachLanguage(t *testing.T) {
	d := time.Date(2026, 4, 3, 18, 5, 0, 0, time.UTC)
	for lang, want := range map[string][2]string{
		"en": {"April 3, 2026", "April 3 at 6:05 pm"},
		"es": {"3 de abril de 2026", "3 de abril a las 18:05"},
		"fr": {"3 avril 2026", "3 avril à 18 h 05"},
		"de": {"April 3, 2026", "April 3 at 6:05 pm"}, // not shipped: English
	} {
		if got := FormatDate(d, lang, false); got != want[0] {
			t.Errorf("%s date: %q", lang, got)
		}
		if got := FormatDate(d, lang, true); got != want[1] {
			t.Errorf("%s date and time: %q", lang, got)
		}
	}
	for _, lang := range Languages {
		if _, ok := months[lang]; !ok {
			t.Errorf("no month names in %s", lang)
		}
		if _, ok := deviceKinds[lang]; !ok {
			t.Errorf("no device kinds in %s", lang)
		}
	}
}
