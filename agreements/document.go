package agreements

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/message"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/locale"
)

// Agency is who lends: printed at the head of every agreement and named as
// the contact.
type Agency struct {
	Name, Address, Phone, Email string
	// Logo is a PNG that documents.CleanImage returned; nil prints none.
	Logo []byte
	// Currency is what replacement costs are in; the zero value is USD.
	Currency currency.Unit
}

// Document is everything one agreement prints. It holds the client's name
// and case number and nothing else about them.
type Document struct {
	Agency Agency
	LoanID int64
	Terms  *Terms

	ClientName, CaseNumber string

	DeviceKind, Make, Model, Serial, IMEI, AssetTag string
	Accessories                                     []Accessory
	Plan                                            *Plan

	IssuedAt time.Time // the moment the loan was made; its date is printed
	Location *time.Location
	DueOn    calendar.Date

	// Signed is the signing, when the agreement is signed.
	Signed *Signing
}

// Accessory is one item lent with the device, and what it costs to replace.
type Accessory struct {
	Name                 string
	ReplacementCostCents int64
}

// Plan is the data plan lent with the device.
type Plan struct {
	Carrier, LineNumber string
	DataCapMB           *int // nil: unlimited
	EndsOn              calendar.Date
}

// Signing is how and when the client signed, and who witnessed it.
type Signing struct {
	Method       Method
	SignaturePNG []byte // a drawn signature, as documents.CleanImage returned it
	TypedName    string
	WitnessName  string
	SignedAt     time.Time
}

// PDF draws the agreement on A4: the agency, the client, the device and its
// accessories, the data plan, the dates, the terms, what happens to the
// data on the device, how to reach the agency and the signature block,
// with the loan number, the terms version and "page N of M" at the foot of
// every page. Its language is the terms'.
func (d *Document) PDF() ([]byte, error) {
	lang := d.Terms.Language
	w := wordsFor(lang)
	date := d.IssuedAt
	if d.Signed != nil {
		date = d.Signed.SignedAt
	}
	pdf := documents.New(documents.Portrait, fmt.Sprintf(w.LoanNumber, d.LoanID)+": "+w.Title, d.Agency.Name, date)
	pdf.AddPage()
	r := renderer{Doc: pdf, w: w, lang: lang, loc: d.Location}
	r.header(d.Agency)
	pdf.Title(w.Title)
	pdf.SetFont(documents.Family, "B", 11)
	pdf.MultiCell(0, 6, fmt.Sprintf(w.LoanNumber, d.LoanID), "", "L", false)
	pdf.Ln(1)
	pdf.Paragraph(w.Intro)

	r.heading(w.Client)
	r.field(w.Name, d.ClientName)
	r.field(w.CaseNumber, d.CaseNumber)

	r.heading(w.Device)
	r.field(w.Kind, locale.DeviceKind(d.DeviceKind, lang))
	r.field(w.MakeModel, strings.TrimSpace(d.Make+" "+d.Model))
	r.field(w.Serial, d.Serial)
	if d.IMEI != "" {
		r.field(w.IMEI, d.IMEI)
	}
	r.field(w.AssetTag, d.AssetTag)
	r.barcode(d.AssetTag)
	var items []string
	for _, a := range d.Accessories {
		items = append(items, a.Name+" ("+w.ReplacementCost+": "+r.money(d.Agency.Currency, a.ReplacementCostCents)+")")
	}
	r.field(w.Accessories, strings.Join(items, "\n"))

	if p := d.Plan; p != nil {
		r.heading(w.DataPlan)
		r.field(w.Carrier, p.Carrier)
		r.field(w.LineNumber, p.LineNumber)
		r.field(w.DataCap, r.dataCap(p.DataCapMB))
		if !p.EndsOn.IsZero() {
			r.field(w.PlanEnds, locale.FormatDate(p.EndsOn.Time(), lang, false))
		}
	}

	r.heading(w.Period)
	r.field(w.IssuedOn, locale.FormatDate(d.IssuedAt.In(r.loc), lang, false))
	r.field(w.DueOn, locale.FormatDate(d.DueOn.Time(), lang, false))

	r.heading(w.Terms)
	pdf.SetFont(documents.Family, "", 9)
	pdf.MultiCell(0, 4.5, fmt.Sprintf(w.TermsVersion, d.Terms.Version, languageName(lang)), "", "L", false)
	pdf.Ln(1.5)
	for _, p := range d.Terms.Paragraphs() {
		pdf.SetFont(documents.Family, "", 10)
		pdf.MultiCell(0, 4.8, p, "", "L", false)
		pdf.Ln(2)
	}

	r.heading(w.YourData)
	pdf.Paragraph(w.Wipe)

	r.heading(w.Contact)
	pdf.Paragraph(w.ContactText)
	for _, line := range []string{d.Agency.Name, d.Agency.Address, d.Agency.Phone, d.Agency.Email} {
		if line != "" {
			pdf.MultiCell(0, 5.5, line, "", "L", false)
		}
	}

	r.signatures(d.Signed, d.ClientName)
	pdf.NumberPages(func(n, total int) string {
		return fmt.Sprintf(w.Footer, d.LoanID, d.Terms.Version, lang, n, total)
	})
	return pdf.Bytes()
}

// renderer draws the parts of an agreement in one language.
type renderer struct {
	*documents.Doc
	w    words
	lang string
	loc  *time.Location
}

// labelWidth is the width of the label column of a field, in mm.
const labelWidth = 48.0

func (r renderer) header(a Agency) {
	x := documents.Margin
	top := r.GetY()
	if a.Logo != nil {
		x += r.PNG("logo", a.Logo, x, top, 40, 20) + 6
	}
	pageW, _ := r.GetPageSize()
	r.SetXY(x, top)
	r.SetFont(documents.Family, "B", 13)
	r.MultiCell(pageW-documents.Margin-x, 6, a.Name, "", "L", false)
	r.SetFont(documents.Family, "", 9)
	for _, line := range []string{a.Address, a.Phone, a.Email} {
		if line != "" {
			r.SetX(x)
			r.MultiCell(pageW-documents.Margin-x, 4.5, line, "", "L", false)
		}
	}
	if a.Logo != nil {
		r.SetY(max(r.GetY(), top+20))
	}
	r.Ln(6)
}

func (r renderer) heading(text string) {
	_, pageH := r.GetPageSize()
	if r.GetY() > pageH-documents.Margin-25 { // keep a heading with what follows it
		r.AddPage()
	}
	r.Ln(2)
	r.SetFont(documents.Family, "B", 12)
	r.MultiCell(0, 7, text, "B", "L", false)
	r.Ln(1.5)
	r.SetFont(documents.Family, "", 11)
}

// field writes a label and its value on one line, the value wrapping in
// its own column; an empty value prints the word for none.
func (r renderer) field(label, value string) {
	if strings.TrimSpace(value) == "" {
		value = r.w.None
	}
	y := r.GetY()
	r.SetFont(documents.Family, "B", 10)
	r.SetX(documents.Margin)
	r.MultiCell(labelWidth, 5.5, label, "", "L", false)
	labelEnd, labelPage := r.GetY(), r.PageNo()
	r.SetFont(documents.Family, "", 10)
	r.SetXY(documents.Margin+labelWidth, y)
	r.MultiCell(0, 5.5, value, "", "L", false)
	if r.PageNo() == labelPage && labelEnd > r.GetY() {
		r.SetY(labelEnd)
	}
}

// barcode draws the asset tag as a Code 128 barcode under the fields; a
// tag the code cannot hold (outside ASCII) is printed as text only.
func (r renderer) barcode(tag string) {
	if tag == "" {
		return
	}
	_, pageH := r.GetPageSize()
	if r.GetY()+16 > pageH-documents.Margin {
		r.AddPage()
	}
	y := r.GetY() + 1
	if err := r.Code128(tag, documents.Margin+labelWidth-3, y, 70, 12); err == nil {
		r.SetY(y + 14)
	}
}

func (r renderer) money(unit currency.Unit, cents int64) string {
	if unit == (currency.Unit{}) {
		unit = currency.USD
	}
	return message.NewPrinter(language.Make(r.lang)).Sprint(currency.Symbol(unit.Amount(float64(cents) / 100)))
}

func (r renderer) dataCap(mb *int) string {
	switch {
	case mb == nil:
		return r.w.Unlimited
	case *mb >= 1024 && *mb%1024 == 0:
		return strconv.Itoa(*mb/1024) + " GB"
	}
	return strconv.Itoa(*mb) + " MB"
}

// signatures draws the signature block on one page: the client's side
// (the drawn signature, the typed name, "signed on paper", or a line to
// sign on) and the witness's, each with the signer's name and the date.
func (r renderer) signatures(s *Signing, clientName string) {
	_, pageH := r.GetPageSize()
	if r.GetY() > pageH-documents.Margin-58 { // the block's height
		r.AddPage()
	}
	r.heading(r.w.Signatures)
	pageW, _ := r.GetPageSize()
	colW := (pageW - 2*documents.Margin - 10) / 2
	top := r.GetY()
	left, right := documents.Margin, documents.Margin+colW+10
	const boxH = 24.0

	r.SetFont(documents.Family, "B", 10)
	r.SetXY(left, top)
	r.CellFormat(colW, 5.5, r.w.ClientSignature, "", 0, "L", false, 0, "")
	r.SetXY(right, top)
	r.CellFormat(colW, 5.5, r.w.Witness, "", 0, "L", false, 0, "")
	box := top + 7
	if s != nil {
		r.SetFont(documents.Family, "", 10)
		switch s.Method {
		case Drawn:
			r.PNG("signature", s.SignaturePNG, left, box, colW, boxH-2)
		case Typed:
			r.SetXY(left, box)
			r.MultiCell(colW, 5, r.w.TypedSignature, "", "L", false)
			r.SetFont(documents.Family, "B", 16)
			r.SetX(left)
			r.MultiCell(colW, 8, s.TypedName, "", "L", false)
		case Paper:
			r.SetXY(left, box+4)
			r.MultiCell(colW, 5, r.w.SignedOnPaper, "", "L", false)
		}
	}
	line := box + boxH
	r.SetLineWidth(0.3)
	r.Line(left, line, left+colW, line)
	r.Line(right, line, right+colW, line)
	witness, date := "", r.w.Date+": "
	if s != nil {
		at := s.SignedAt.In(r.loc)
		witness = s.WitnessName
		date = r.w.SignedAt + " " + locale.FormatDate(at, r.lang, false) + ", " + at.Format("15:04 MST")
	}
	end := line
	for _, side := range []struct {
		x    float64
		name string
	}{{left, clientName}, {right, witness}} {
		r.SetXY(side.x, line+1.5)
		r.SetFont(documents.Family, "B", 10)
		r.MultiCell(colW, 5, side.name, "", "L", false)
		r.SetFont(documents.Family, "", 10)
		r.SetX(side.x)
		r.MultiCell(colW, 5, date, "", "L", false)
		end = max(end, r.GetY())
	}
	r.SetY(end + 4)
}

// languageName names a language in itself ("español"), or gives its code.
func languageName(code string) string {
	tag, err := language.Parse(code)
	if err != nil {
		return code
	}
	if name := display.Self.Name(tag); name != "" {
		return name
	}
	return code
}
