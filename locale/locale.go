// Package locale holds the words every language the product writes in
// needs (month names, how a date is written, device kinds), shared by
// reminders and documents. A language is added by adding its entries here.
package locale

import (
	"strings"
	"text/template"
	"time"
)

// Languages are the languages the product writes in; others fall back to
// English.
var Languages = []string{"en", "es", "fr"}

// months[lang] are the month names.
var months = map[string][12]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// dateLayouts[lang] write a date ({{.Day}}, {{.Month}}, {{.Year}}) and a
// time of day ({{.Hour}}, {{.Minute}}, {{.Hour12}}, {{.PM}}).
var dateLayouts = map[string]struct{ Date, DateTime string }{
	"en": {"{{.Month}} {{.Day}}, {{.Year}}", "{{.Month}} {{.Day}} at {{.Hour12}}:{{printf \"%02d\" .Minute}} {{if .PM}}pm{{else}}am{{end}}"},
	"es": {"{{.Day}} de {{.Month}} de {{.Year}}", "{{.Day}} de {{.Month}} a las {{.Hour}}:{{printf \"%02d\" .Minute}}"},
	"fr": {"{{.Day}} {{.Month}} {{.Year}}", "{{.Day}} {{.Month}} à {{.Hour}} h {{printf \"%02d\" .Minute}}"},
}

// deviceKinds[lang][kind] name a kind of device.
var deviceKinds = map[string]map[string]string{
	"en": {"phone": "phone", "tablet": "tablet", "laptop": "laptop", "hotspot": "hotspot", "other": "device"},
	"es": {"phone": "teléfono", "tablet": "tableta", "laptop": "portátil", "hotspot": "punto de acceso", "other": "equipo"},
	"fr": {"phone": "téléphone", "tablet": "tablette", "laptop": "ordinateur portable", "hotspot": "point d'accès", "other": "appareil"},
}

var parsedLayouts = func() map[string][2]*template.Template {
	out := map[string][2]*template.Template{}
	for lang, l := range dateLayouts {
		out[lang] = [2]*template.Template{template.Must(template.New(lang).Parse(l.Date)), template.Must(template.New(lang).Parse(l.DateTime))}
	}
	return out
}()

// FormatDate writes a date (or, withTime, a date and time) as lang writes
// it, in the time zone t carries.
func FormatDate(t time.Time, lang string, withTime bool) string {
	layouts, ok := parsedLayouts[lang]
	if !ok {
		lang, layouts = "en", parsedLayouts["en"]
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	data := map[string]any{"Day": t.Day(), "Month": months[lang][t.Month()-1], "Year": t.Year(),
		"Hour": t.Hour(), "Minute": t.Minute(), "Hour12": hour12, "PM": t.Hour() >= 12}
	tpl := layouts[0]
	if withTime {
		tpl = layouts[1]
	}
	var b strings.Builder
	if err := tpl.Execute(&b, data); err != nil {
		return t.Format("2006-01-02 15:04")
	}
	return b.String()
}

// DeviceKind names a kind of device in lang.
func DeviceKind(kind, lang string) string {
	if w, ok := deviceKinds[lang][kind]; ok {
		return w
	}
	if w, ok := deviceKinds["en"][kind]; ok {
		return w
	}
	return kind
}
