package notifications

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// A reminder can only say what a Message holds, so this list is the
// confidentiality rule: adding a field (a surname, an income, a program,
// a case number) must be a deliberate change to this test.
func TestMessageHoldsNothingSensitive(t *testing.T) {
	allowed := []string{"AgencyPhone", "Agency", "AssetTag", "DaysLeft", "DaysOverdue", "DeviceKind", "DueOn",
		"FirstName", "Location", "Note", "PlanEndsOn", "SessionTitle", "SessionWhen"}
	var got []string
	typ := reflect.TypeOf(Message{})
	for i := 0; i < typ.NumField(); i++ {
		got = append(got, typ.Field(i).Name)
	}
	sort.Strings(got)
	sort.Strings(allowed)
	if strings.Join(got, ",") != strings.Join(allowed, ",") {
		t.Fatalf("Message fields changed:\n got  %v\n want %v\nreview what a reminder may carry before changing this list", got, allowed)
	}
}

// Every template in every language renders, names the agency and its
// phone, greets by first name only, and fits in three SMS segments (an
// accent outside GSM-7, such as á, makes the whole text UCS-2: 67 a segment).
func TestEveryTemplateInEveryLanguage(t *testing.T) {
	m := Message{FirstName: "Rosa", Agency: "Northside Family Services", AgencyPhone: "+1 312 555 0100",
		DeviceKind: "laptop", AssetTag: "DB-000042", DueOn: "April 10", DaysLeft: 3, DaysOverdue: 7,
		SessionTitle: "Your phone, step by step", SessionWhen: "April 2, 5:30 pm", Location: "Library room 2",
		PlanEndsOn: "May 31", Note: "Your charger is ready to pick up."}
	for _, lang := range Languages {
		for _, kind := range ClientKinds {
			t.Run(lang+"/"+string(kind), func(t *testing.T) {
				text, err := Render(kind, lang, m)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"Rosa", m.AgencyPhone} {
					if !strings.Contains(text, want) {
						t.Errorf("%q lacks %q", text, want)
					}
				}
				if !strings.Contains(text, m.Agency) {
					t.Errorf("%q does not name the agency", text)
				}
				if n := smsSegments(text); n > 3 {
					t.Errorf("%d SMS segments: too long: %q", n, text)
				}
			})
		}
	}
}

// Without an agency phone (the default until a provider is configured),
// every message leaves out the sentences that would name it, rather than
// saying "llame al ." or "Call Northside at to book another": no call to
// action, no space before punctuation, no empty clause; and it still
// names the agency and greets the client.
func TestTemplatesWithoutAnAgencyPhone(t *testing.T) {
	callWords := map[string][]string{
		"en": {"call", "Call"},
		"es": {"llame", "Llame"},
		"fr": {"appelez", "Appelez", "appeler"},
	}
	for _, note := range []string{"", "Your charger is ready."} {
		m := Message{FirstName: "Rosa", Agency: "Northside", DeviceKind: "laptop", AssetTag: "DB-000042", DueOn: "April 10",
			DaysLeft: 3, DaysOverdue: 7, SessionTitle: "Your phone, step by step", SessionWhen: "April 2, 5:30 pm",
			PlanEndsOn: "May 31", Note: note}
		for _, lang := range Languages {
			if len(callWords[lang]) == 0 {
				t.Fatalf("no call-to-action words listed for %s: add them here", lang)
			}
			for _, kind := range ClientKinds {
				text, err := Render(kind, lang, m)
				if err != nil {
					t.Fatal(err)
				}
				for _, bad := range append([]string{" .", " ,", " :.", ": .", ",.", "..", "  ", " ?", "al .", "le .", "at  "}, callWords[lang]...) {
					// French puts a space before ? and : on purpose.
					if lang == "fr" && (bad == " ?" || bad == " :.") {
						continue
					}
					if strings.Contains(text, bad) {
						t.Errorf("%s/%s without a phone, note %q: %q contains %q", lang, kind, note, text, bad)
					}
				}
				if !strings.Contains(text, "Rosa") || !strings.Contains(text, m.Agency) || !strings.HasSuffix(text, ".") {
					t.Errorf("%s/%s without a phone: %q must greet Rosa, name the agency and end a sentence", lang, kind, text)
				}
				if note != "" && kind == Manual && !strings.Contains(text, note) {
					t.Errorf("%s/%s: %q lacks the note", lang, kind, text)
				}
			}
		}
	}
}

func TestEveryLanguageHasEveryClientTemplate(t *testing.T) {
	for _, lang := range Languages {
		for _, kind := range ClientKinds {
			if _, ok := templates[lang][kind]; !ok {
				t.Errorf("no %s template in %s", kind, lang)
			}
		}
	}
}

func TestLanguageFor(t *testing.T) {
	for in, want := range map[string]string{"es": "es", "es-MX": "es", "fr-CA": "fr", "en-US": "en", "vi": "en", "": "en", "x!": "en"} {
		if got := LanguageFor(in); got != want {
			t.Errorf("LanguageFor(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Render("no_such_kind", "en", Message{}); err == nil {
		t.Error("an unknown kind rendered")
	}
}

// gsm7 is the GSM 03.38 basic alphabet; gsm7Ext are the characters its
// extension table adds, at two septets each.
const (
	gsm7    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Ext = "^{}\\[~]|€"
)

// smsSegments is how many SMS a text takes: 160 GSM-7 characters in one,
// 153 a part when split; with any other character the whole text is UCS-2,
// 70 in one and 67 a part.
func smsSegments(text string) int {
	septets, unicode := 0, false
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7, r):
			septets++
		case strings.ContainsRune(gsm7Ext, r):
			septets += 2
		default:
			unicode = true
		}
	}
	one, part, n := 160, 153, septets
	if unicode {
		one, part, n = 70, 67, utf8.RuneCountInString(text)
	}
	if n <= one {
		return 1
	}
	return (n + part - 1) / part
}

func TestSMSSegments(t *testing.T) {
	for text, want := range map[string]int{
		strings.Repeat("a", 160): 1, strings.Repeat("a", 161): 2, strings.Repeat("é", 160): 1,
		strings.Repeat("á", 70): 1, strings.Repeat("á", 71): 2, strings.Repeat("€", 80): 1, strings.Repeat("€", 81): 2,
	} {
		if got := smsSegments(text); got != want {
			t.Errorf("%d× %q: %d segments, want %d", utf8.RuneCountInString(text), text[:3], got, want)
		}
	}
}
