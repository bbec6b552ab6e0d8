package notifications

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"golang.org/x/text/language"

	"github.com/devicebank/devicebank/locale"
)

// Kind is what a notification is about.
type Kind string

const (
	LoanDueSoon       Kind = "loan_due_soon"
	LoanDueToday      Kind = "loan_due_today"
	LoanOverdue       Kind = "loan_overdue"
	TrainingUpcoming  Kind = "training_upcoming"
	TrainingCancelled Kind = "training_cancelled"
	DataPlanEnding    Kind = "data_plan_ending"
	CoordinatorDigest Kind = "coordinator_digest"
	Manual            Kind = "manual"
	// FunderReport is last month's utilization report, emailed to a funder
	// with the PDF attached (report.go).
	FunderReport Kind = "funder_report"
)

// ClientKinds are the notifications sent to clients, which must carry
// nothing sensitive.
var ClientKinds = []Kind{LoanDueSoon, LoanDueToday, LoanOverdue, TrainingUpcoming, TrainingCancelled, DataPlanEnding, Manual}

// Message is what a template may use. It holds, on purpose, nothing
// sensitive: a first name only (no surname), no income, programs, needs or
// case details. What cannot be put in a Message cannot leak into a reminder.
type Message struct {
	FirstName    string // the client's first name
	Agency       string // the agency's name
	AgencyPhone  string // where to call
	DeviceKind   string // "laptop", in the message's language
	AssetTag     string // the label on the device, so they know which one
	DueOn        string // a date, already written for the language
	DaysLeft     int    // days until due (due soon)
	DaysOverdue  int    // days past due (overdue)
	SessionTitle string // a training session's title
	SessionWhen  string // its start, already written for the language
	Location     string // where it is
	PlanEndsOn   string // when a data plan ends
	Note         string // a coordinator's short note (manual reminders)
}

// Languages are the languages templates ship in; others fall back to
// English. More are added as data in templates below.
var Languages = locale.Languages

// templates[lang][kind] is a short message. Keep them short (an SMS is 160
// characters) and kind. The agency's phone is optional (it is required
// only once SMS or email is configured): every sentence that names it is
// inside {{if .AgencyPhone}}, so no message reads "call  to book another".
var templates = map[string]map[Kind]string{
	"en": {
		LoanDueSoon:       "Hi {{.FirstName}}, a reminder from {{.Agency}}: the {{.DeviceKind}} you borrowed ({{.AssetTag}}) is due back on {{.DueOn}}.{{if .AgencyPhone}} Questions? Call {{.AgencyPhone}}.{{end}}",
		LoanDueToday:      "Hi {{.FirstName}}, the {{.DeviceKind}} you borrowed from {{.Agency}} ({{.AssetTag}}) is due back today.{{if .AgencyPhone}} Need more time? Call {{.AgencyPhone}}.{{end}}",
		LoanOverdue:       "Hi {{.FirstName}}, the {{.DeviceKind}} you borrowed from {{.Agency}} ({{.AssetTag}}) was due on {{.DueOn}}. Please bring it back{{if .AgencyPhone}} or call {{.AgencyPhone}} and we will help{{end}}.",
		TrainingUpcoming:  "Hi {{.FirstName}}, see you at \"{{.SessionTitle}}\" on {{.SessionWhen}}{{if .Location}} at {{.Location}}{{end}}. {{.Agency}}{{if .AgencyPhone}}, {{.AgencyPhone}}{{end}}.",
		TrainingCancelled: "Hi {{.FirstName}}, sorry: \"{{.SessionTitle}}\" on {{.SessionWhen}} is cancelled.{{if .AgencyPhone}} Call {{.Agency}} at {{.AgencyPhone}} to book another.{{else}} {{.Agency}}.{{end}}",
		DataPlanEnding:    "Hi {{.FirstName}}, the data plan on the device you borrowed from {{.Agency}} ends on {{.PlanEndsOn}}.{{if .AgencyPhone}} Questions? Call {{.AgencyPhone}}.{{end}}",
		Manual:            "Hi {{.FirstName}}, a message from {{.Agency}}{{if .Note}}: {{.Note}}{{else}} about the device you borrowed.{{end}}{{if .AgencyPhone}} Please call {{.AgencyPhone}}.{{end}}",
	},
	"es": {
		LoanDueSoon:       "Hola {{.FirstName}}, un recordatorio de {{.Agency}}: el equipo ({{.DeviceKind}}, {{.AssetTag}}) que le prestamos se devuelve el {{.DueOn}}.{{if .AgencyPhone}} ¿Preguntas? Llame al {{.AgencyPhone}}.{{end}}",
		LoanDueToday:      "Hola {{.FirstName}}, hoy se devuelve el equipo ({{.DeviceKind}}, {{.AssetTag}}) que le prestó {{.Agency}}.{{if .AgencyPhone}} ¿Necesita más tiempo? Llame al {{.AgencyPhone}}.{{end}}",
		LoanOverdue:       "Hola {{.FirstName}}, el equipo ({{.DeviceKind}}, {{.AssetTag}}) que le prestó {{.Agency}} debía devolverse el {{.DueOn}}. Tráigalo{{if .AgencyPhone}} o llame al {{.AgencyPhone}} y le ayudamos{{end}}.",
		TrainingUpcoming:  "Hola {{.FirstName}}, le esperamos en \"{{.SessionTitle}}\" el {{.SessionWhen}}{{if .Location}} en {{.Location}}{{end}}. {{.Agency}}{{if .AgencyPhone}}, {{.AgencyPhone}}{{end}}.",
		TrainingCancelled: "Hola {{.FirstName}}, lo sentimos: \"{{.SessionTitle}}\" del {{.SessionWhen}} se canceló.{{if .AgencyPhone}} Llame a {{.Agency}} al {{.AgencyPhone}} para reservar otra.{{else}} {{.Agency}}.{{end}}",
		DataPlanEnding:    "Hola {{.FirstName}}, el plan de datos del equipo que le prestó {{.Agency}} termina el {{.PlanEndsOn}}.{{if .AgencyPhone}} ¿Preguntas? Llame al {{.AgencyPhone}}.{{end}}",
		Manual:            "Hola {{.FirstName}}, un mensaje de {{.Agency}}{{if .Note}}: {{.Note}}{{else}} sobre el equipo que le prestamos.{{end}}{{if .AgencyPhone}} Por favor llame al {{.AgencyPhone}}.{{end}}",
	},
	"fr": {
		LoanDueSoon:       "Bonjour {{.FirstName}}, un rappel de {{.Agency}} : l'appareil prêté ({{.DeviceKind}}, {{.AssetTag}}) est à rendre le {{.DueOn}}.{{if .AgencyPhone}} Des questions ? Appelez le {{.AgencyPhone}}.{{end}}",
		LoanDueToday:      "Bonjour {{.FirstName}}, l'appareil prêté par {{.Agency}} ({{.DeviceKind}}, {{.AssetTag}}) est à rendre aujourd'hui.{{if .AgencyPhone}} Besoin de plus de temps ? Appelez le {{.AgencyPhone}}.{{end}}",
		LoanOverdue:       "Bonjour {{.FirstName}}, l'appareil prêté par {{.Agency}} ({{.DeviceKind}}, {{.AssetTag}}) était à rendre le {{.DueOn}}. Rapportez-le{{if .AgencyPhone}} ou appelez le {{.AgencyPhone}}, nous vous aiderons{{end}}.",
		TrainingUpcoming:  "Bonjour {{.FirstName}}, à bientôt pour « {{.SessionTitle}} » le {{.SessionWhen}}{{if .Location}} à {{.Location}}{{end}}. {{.Agency}}{{if .AgencyPhone}}, {{.AgencyPhone}}{{end}}.",
		TrainingCancelled: "Bonjour {{.FirstName}}, désolés : « {{.SessionTitle}} » du {{.SessionWhen}} est annulé.{{if .AgencyPhone}} Appelez {{.Agency}} au {{.AgencyPhone}} pour en réserver un autre.{{else}} {{.Agency}}.{{end}}",
		DataPlanEnding:    "Bonjour {{.FirstName}}, le forfait de données de l'appareil prêté par {{.Agency}} se termine le {{.PlanEndsOn}}.{{if .AgencyPhone}} Des questions ? Appelez le {{.AgencyPhone}}.{{end}}",
		Manual:            "Bonjour {{.FirstName}}, un message de {{.Agency}}{{if .Note}} : {{.Note}}{{else}} au sujet de l'appareil prêté.{{end}}{{if .AgencyPhone}} Merci d'appeler le {{.AgencyPhone}}.{{end}}",
	},
}

// subjects[lang][kind] is an email's subject line.
var subjects = map[string]map[Kind]string{
	"en": {LoanDueSoon: "Your device is due back soon", LoanDueToday: "Your device is due back today",
		LoanOverdue: "Your device is overdue", TrainingUpcoming: "Your training session is coming up",
		TrainingCancelled: "Your training session is cancelled", DataPlanEnding: "Your data plan is ending",
		Manual: "A message about your device"},
	"es": {LoanDueSoon: "Pronto debe devolver su equipo", LoanDueToday: "Hoy debe devolver su equipo",
		LoanOverdue: "Su equipo está atrasado", TrainingUpcoming: "Su sesión de capacitación se acerca",
		TrainingCancelled: "Su sesión de capacitación se canceló", DataPlanEnding: "Su plan de datos termina pronto",
		Manual: "Un mensaje sobre su equipo"},
	"fr": {LoanDueSoon: "Votre appareil est bientôt à rendre", LoanDueToday: "Votre appareil est à rendre aujourd'hui",
		LoanOverdue: "Votre appareil est en retard", TrainingUpcoming: "Votre formation approche",
		TrainingCancelled: "Votre formation est annulée", DataPlanEnding: "Votre forfait de données se termine",
		Manual: "Un message au sujet de votre appareil"},
}

// Subject is the subject line of an email of kind in lang (English when
// the language or kind has none).
func Subject(kind Kind, lang string) string {
	if s, ok := subjects[lang][kind]; ok {
		return s
	}
	if s, ok := subjects["en"][kind]; ok {
		return s
	}
	return "A message from your device lending service"
}

var parsed = func() map[string]map[Kind]*template.Template {
	out := map[string]map[Kind]*template.Template{}
	for lang, kinds := range templates {
		out[lang] = map[Kind]*template.Template{}
		for kind, text := range kinds {
			out[lang][kind] = template.Must(template.New(lang + "/" + string(kind)).Option("missingkey=error").Parse(text))
		}
	}
	return out
}()

// LanguageFor picks the shipped language for a client's preferred one by
// its base language ("es-MX" gets Spanish), English when none ships. The
// sweep does the same in SQL (languageSQL).
func LanguageFor(preferred string) string {
	tag, err := language.Parse(preferred)
	if err != nil {
		return "en"
	}
	base, _ := tag.Base()
	for _, l := range Languages {
		if base.String() == l {
			return l
		}
	}
	return "en"
}

// Render writes the message of kind in lang (falling back to English).
func Render(kind Kind, lang string, m Message) (string, error) {
	set, ok := parsed[lang]
	if !ok {
		set = parsed["en"]
	}
	t, ok := set[kind]
	if !ok {
		return "", fmt.Errorf("notifications: no %s template", kind)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, m); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(b.String()), " "), nil
}

// StaffMessage is what a note to staff (a social worker, the coordinators)
// may use. Staff read it in their mailbox, outside DeviceBank, so it names
// records by number and never a client's name or details.
type StaffMessage struct {
	Agency       string
	LoanID       int64
	ClientID     int64
	SessionID    int64
	DeviceKind   string
	AssetTag     string
	DueOn        string
	DaysOverdue  int
	PlanEndsOn   string
	SessionTitle string
	SessionWhen  string
	Note         string
	// Unreachable: the client has no channel (or opted out), so staff must
	// tell them.
	Unreachable bool
	// ClientReminded: the client was sent this reminder too.
	ClientReminded bool
	// The coordinators' digest.
	Inspection, Overdue, Unsigned int
}

var staffTemplates = map[Kind]string{
	LoanDueSoon:       "Loan #{{.LoanID}} ({{.DeviceKind}} {{.AssetTag}}) is due back on {{.DueOn}}.",
	LoanDueToday:      "Loan #{{.LoanID}} ({{.DeviceKind}} {{.AssetTag}}) is due back today.",
	LoanOverdue:       "Loan #{{.LoanID}} ({{.DeviceKind}} {{.AssetTag}}) was due on {{.DueOn}} and is {{.DaysOverdue}} day{{if ne .DaysOverdue 1}}s{{end}} overdue.",
	DataPlanEnding:    "The data plan on loan #{{.LoanID}} ({{.DeviceKind}} {{.AssetTag}}) ends on {{.PlanEndsOn}}.",
	TrainingUpcoming:  "Client #{{.ClientID}} is enrolled in training session #{{.SessionID}} \"{{.SessionTitle}}\" on {{.SessionWhen}}.",
	TrainingCancelled: "Training session #{{.SessionID}} \"{{.SessionTitle}}\" on {{.SessionWhen}} is cancelled; client #{{.ClientID}} had a place.",
	Manual:            "A coordinator asked that the client on loan #{{.LoanID}} ({{.DeviceKind}} {{.AssetTag}}) be reminded.{{if .Note}} Note: {{.Note}}{{end}}",
	CoordinatorDigest: "Today: {{.Inspection}} device{{if ne .Inspection 1}}s{{end}} waiting for inspection, {{.Overdue}} loan{{if ne .Overdue 1}}s{{end}} overdue, {{.Unsigned}} open loan{{if ne .Unsigned 1}}s{{end}} without a signed agreement.",
}

var parsedStaff = func() map[Kind]*template.Template {
	out := map[Kind]*template.Template{}
	for kind, text := range staffTemplates {
		out[kind] = template.Must(template.New("staff/" + string(kind)).Option("missingkey=error").Parse(text))
	}
	return out
}()

// RenderStaff writes a note to staff about kind, in English (staff have no
// language setting), with its subject line.
func RenderStaff(kind Kind, m StaffMessage) (subject, body string, err error) {
	t, ok := parsedStaff[kind]
	if !ok {
		return "", "", fmt.Errorf("notifications: no staff %s template", kind)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, m); err != nil {
		return "", "", err
	}
	text := b.String()
	switch {
	case kind == CoordinatorDigest:
		subject = m.Agency + " DeviceBank: daily digest"
	case m.LoanID != 0:
		subject = fmt.Sprintf("%s DeviceBank: loan #%d", m.Agency, m.LoanID)
	default:
		subject = fmt.Sprintf("%s DeviceBank: training session #%d", m.Agency, m.SessionID)
	}
	switch {
	case kind == CoordinatorDigest:
	case m.Unreachable:
		text += " The client cannot be reached by SMS or email (no channel, or opted out): please tell them."
	case m.ClientReminded:
		text += " The client has been sent a reminder too."
	}
	return subject, "DeviceBank (" + m.Agency + "): " + text, nil
}
