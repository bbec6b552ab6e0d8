package agreements

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/documents"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/storage"
)

// Method is how a client signed.
type Method string

// The ways a client signs, always in person, before the staff member who
// records it (the witness).
const (
	Drawn Method = "drawn" // on a tablet: the drawn signature is printed
	Typed Method = "typed" // the client typed their name
	Paper Method = "paper" // in ink on a printed copy the agency keeps
)

// Methods lists the signing methods.
var Methods = []Method{Drawn, Typed, Paper}

// MaxSignatureBytes is the largest drawn signature accepted, as PNG bytes.
const MaxSignatureBytes = 200 * 1024

// MaxSignaturePixels bounds a drawn signature's width × height: a tablet's
// signature pad at twice its screen's density (2000 × 1000) and no more,
// as decoding one costs memory in proportion.
const MaxSignaturePixels = 2_000_000

// signatureRules take a drawn signature: a PNG with ink on it.
var signatureRules = documents.ImageRules{Formats: []string{"png"}, MaxPixels: MaxSignaturePixels, MustHaveInk: true}

// MaxTypedNameLength is the most characters a typed signature may have.
const MaxTypedNameLength = 200

// Acceptance is the record of a signed agreement. The signed PDF is kept
// with it (never in its JSON): every download is those bytes, whose SHA-256
// is recorded.
type Acceptance struct {
	bun.BaseModel `bun:"table:loan_agreements,alias:la"`

	LoanID       int64     `bun:"loan_id,pk" json:"loan_id"`
	Method       Method    `bun:"method" json:"method"`
	TermsID      int64     `bun:"terms_id" json:"-"`
	TermsVersion int       `bun:"terms_version" json:"terms_version"`
	Language     string    `bun:"language" json:"language"`
	SignedAt     time.Time `bun:"signed_at" json:"signed_at"`
	WitnessID    int64     `bun:"witness_id" json:"witness_id"`
	PDF          []byte    `bun:"pdf" json:"-"`
	SHA256       string    `bun:"sha256" json:"sha256"`
	// SealedKey is the data key the PDF is sealed under (sealed.go).
	SealedKey *int64 `bun:"sealed_key" json:"-"`
}

// AcceptanceInput records a signing.
type AcceptanceInput struct {
	Method Method `json:"method"`
	// SignaturePNG is the drawn signature, base64 (a data: URL is taken
	// too); only with method "drawn".
	SignaturePNG string `json:"signature_png"`
	// TypedName is the name the client typed; only with method "typed".
	TypedName string `json:"typed_name"`
	// Language is the language of the agreement the client read; empty:
	// their preferred language, as agreement.pdf prints it.
	Language string `json:"language"`
	// TermsVersion, when given, is the version the client read: if the
	// terms changed since, nothing is signed (a conflict).
	TermsVersion *int `json:"terms_version"`
}

// check validates the input and returns the signature as it is printed
// (a re-encoded PNG) and the typed name, trimmed.
func (in *AcceptanceInput) check() (png []byte, err error) {
	var bad apperr.Fields
	in.TypedName = strings.TrimSpace(in.TypedName)
	switch in.Method {
	case "":
		bad.Add("method", "is required: drawn, typed or paper")
	case Drawn:
		png = signaturePNG(&bad, in.SignaturePNG)
	case Typed:
		switch {
		case in.TypedName == "":
			bad.Add("typed_name", "is required with method typed: the name the client typed")
		case !utf8.ValidString(in.TypedName) || strings.IndexFunc(in.TypedName, notInAName) >= 0:
			bad.Add("typed_name", "must be a name: no control characters, line breaks, direction overrides or characters such as emoji that the agreement cannot print")
		case strings.IndexFunc(in.TypedName, visibleLetter) < 0:
			bad.Add("typed_name", "must have a letter: the name as the client typed it")
		case utf8.RuneCountInString(in.TypedName) > MaxTypedNameLength:
			bad.Add("typed_name", fmt.Sprintf("must be at most %d characters", MaxTypedNameLength))
		}
	case Paper:
	default:
		bad.Add("method", "must be one of drawn, typed, paper")
	}
	if in.Method != Drawn && in.SignaturePNG != "" {
		bad.Add("signature_png", "is only for method drawn; leave it out")
	}
	if in.Method != Typed && in.TypedName != "" {
		bad.Add("typed_name", "is only for method typed; leave it out")
	}
	if in.TermsVersion != nil && *in.TermsVersion < 1 {
		bad.Add("terms_version", "must be a terms version number (1 or more)")
	}
	return png, bad.Err()
}

// notInAName reports the characters a typed signature may not hold:
// controls, the bidirectional overrides that would make the printed name
// read otherwise than it was typed, and characters beyond the Basic
// Multilingual Plane, which the agreement's font cannot print.
func notInAName(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r > 0xFFFF
}

// visibleLetter reports a letter that prints as one: not a filler that is
// a letter only by category (the Hangul fillers) and shows nothing.
func visibleLetter(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0:
		return false
	}
	return unicode.IsLetter(r)
}

// signaturePNG decodes a drawn signature and returns it re-encoded, or
// adds what is wrong with it to bad.
func signaturePNG(bad *apperr.Fields, s string) []byte {
	const field = "signature_png"
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		mediaType, data, _ := strings.Cut(rest, ",")
		if mediaType != "image/png;base64" {
			bad.Add(field, "must be a PNG image (a data: URL of image/png, base64)")
			return nil
		}
		s = data
	}
	switch {
	case s == "":
		bad.Add(field, "is required with method drawn: the signature as a base64 PNG")
		return nil
	case len(s) > base64.StdEncoding.EncodedLen(MaxSignatureBytes): // before decoding any of it
		bad.Add(field, fmt.Sprintf("must be at most %d KB", MaxSignatureBytes/1024))
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		bad.Add(field, "must be base64 (standard alphabet, padded)")
		return nil
	}
	if len(raw) > MaxSignatureBytes {
		bad.Add(field, fmt.Sprintf("must be at most %d KB", MaxSignatureBytes/1024))
		return nil
	}
	png, err := documents.CleanImage(raw, signatureRules)
	switch {
	case errors.Is(err, documents.ErrTooLarge):
		bad.Add(field, fmt.Sprintf("must be at most %d pixels (width × height)", MaxSignaturePixels))
	case errors.Is(err, documents.ErrBlankImage):
		bad.Add(field, "is blank: no stroke dark enough to print was drawn")
	case err != nil:
		bad.Add(field, "must be a PNG image")
	}
	return png
}

// Accept records that the client signed the agreement of loan id in
// person, the actor witnessing it: it renders the signed agreement, keeps
// it with its SHA-256 and records the signing in the audit trail, in one
// transaction. A loan the actor may not see is NotFound; a loan that is not
// open, already signed, or whose terms changed since the client read them
// (TermsVersion) is a Conflict, and nothing is stored.
func (s *Service) Accept(ctx context.Context, actor *accounts.Actor, id int64, in AcceptanceInput) (*Acceptance, error) {
	// The loan first: a signature is not decoded for a loan the caller
	// cannot see.
	loan, err := s.loan(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	png, err := in.check()
	if err != nil {
		return nil, err
	}
	if loan.Status != inventory.LoanOpen {
		return nil, apperr.New(apperr.Conflict, "this loan is %s: an agreement is signed while the loan is open", loan.Status)
	}
	if _, err := s.acceptance(ctx, id); err == nil {
		return nil, alreadySigned()
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	doc, err := s.document(ctx, loan, in.Language)
	if err != nil {
		return nil, err
	}
	if in.TermsVersion != nil && *in.TermsVersion != doc.Terms.Version {
		return nil, apperr.New(apperr.Conflict,
			"the terms in this language are now version %d, not %d: print the agreement again for the client to read", doc.Terms.Version, *in.TermsVersion)
	}
	// Stored to the second: what the database keeps and the PDF prints.
	signedAt := s.now().Truncate(time.Second)
	doc.Signed = &Signing{Method: in.Method, SignaturePNG: png, TypedName: in.TypedName, WitnessName: actor.Name, SignedAt: signedAt}
	pdf, err := doc.PDF()
	if err != nil {
		return nil, drawingFailed(id, err)
	}
	sum := sha256.Sum256(pdf)
	a := &Acceptance{LoanID: id, Method: in.Method, TermsID: doc.Terms.ID, TermsVersion: doc.Terms.Version,
		Language: doc.Terms.Language, SignedAt: signedAt, WitnessID: actor.ID, PDF: pdf, SHA256: hex.EncodeToString(sum[:])}
	err = storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		// Still open, and staying so until this commits: a return or loss
		// at the same moment locks the same row, and one waits for the
		// other.
		var status inventory.LoanStatus
		q := tx.NewSelect().Table("loans").Column("status").Where("id = ?", id)
		if err := storage.LockedIf(q, true).Scan(ctx, &status); err != nil {
			return storage.Err(err, "loan")
		}
		if status != inventory.LoanOpen {
			return apperr.New(apperr.Conflict, "this loan is %s: an agreement is signed while the loan is open", status)
		}
		if _, err := tx.NewInsert().Model(s.sealed(a)).Exec(ctx); err != nil {
			if apperr.Is(storage.Err(err, "agreement"), apperr.Conflict) {
				return alreadySigned()
			}
			return storage.Err(err, "agreement")
		}
		return audit.Record(ctx, tx, s.event(actor, signedAt, "agreement.signed", loan),
			map[string]any{"method": a.Method, "terms_version": a.TermsVersion, "language": a.Language, "sha256": a.SHA256})
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// drawingFailed is the error of an agreement that could not be drawn. It
// names the loan only: gofpdf's own message may quote the text it could
// not print, a client's name among it, and errors are logged.
func drawingFailed(loanID int64, err error) error {
	return fmt.Errorf("agreement of loan %d: the PDF could not be drawn (%T)", loanID, err)
}

// loan is loan id if the actor may see it and the client it names: a
// coordinator sees every loan, but the agreement prints the client's name,
// so it is theirs only while the client is referred to them; otherwise it
// is answered as a loan that does not exist.
func (s *Service) loan(ctx context.Context, actor *accounts.Actor, id int64) (*inventory.Loan, error) {
	loan, err := s.Loans.Loan(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if s.Clients != nil {
		ok, err := s.Clients.Visible(ctx, s.DB, actor, loan.ClientID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, storage.Err(sql.ErrNoRows, "loan")
		}
	}
	return loan, nil
}

func alreadySigned() error {
	return apperr.New(apperr.Conflict, "this loan's agreement is already signed: GET its agreement for the record")
}

// Acceptance returns the signing of loan id's agreement (without the PDF);
// NotFound while it is unsigned or when the actor may not see the loan.
func (s *Service) Acceptance(ctx context.Context, actor *accounts.Actor, id int64) (*Acceptance, error) {
	if _, err := s.loan(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.acceptance(ctx, id)
}

func (s *Service) acceptance(ctx context.Context, loanID int64) (*Acceptance, error) {
	a := new(Acceptance)
	err := s.DB.NewSelect().Model(a).ExcludeColumn("pdf").Where("la.loan_id = ?", loanID).Scan(ctx)
	if apperr.Is(storage.Err(err, "agreement"), apperr.NotFound) {
		return nil, apperr.New(apperr.NotFound, "this loan's agreement is not signed yet")
	}
	return a, storage.Err(err, "agreement")
}

// File is an agreement as it is downloaded.
type File struct {
	PDF    []byte
	Signed bool
}

// Name is the file's name, without its extension, for loan id's
// agreement: "loan-ID-agreement", with "-signed" once signed.
func (f *File) Name(loanID int64) string {
	name := "loan-" + strconv.FormatInt(loanID, 10) + "-agreement"
	if f.Signed {
		name += "-signed"
	}
	return name
}

// Agreement returns loan id's agreement for the actor to print: once
// signed, the signed PDF as stored (the same bytes every time); before,
// the agreement rendered now in langCode, or in the client's preferred
// language when it is empty (English where the agency has no terms in
// it). Every download is recorded in the audit trail, as the agreement
// names the client.
func (s *Service) Agreement(ctx context.Context, actor *accounts.Actor, id int64, langCode string) (*File, error) {
	if langCode != "" {
		if _, err := ParseLanguage(langCode); err != nil {
			return nil, err
		}
	}
	loan, err := s.loan(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	f := new(File)
	var signed Acceptance
	err = s.DB.NewSelect().Model(&signed).Where("la.loan_id = ?", id).Scan(ctx)
	details := map[string]any{}
	switch {
	case err == nil:
		if f.PDF, err = s.openPDF(&signed); err != nil {
			return nil, err
		}
		f.Signed = true
		details = map[string]any{"signed": true, "language": signed.Language, "terms_version": signed.TermsVersion, "sha256": signed.SHA256}
	case apperr.Is(storage.Err(err, "agreement"), apperr.NotFound):
		doc, err := s.document(ctx, loan, langCode)
		if err != nil {
			return nil, err
		}
		if f.PDF, err = doc.PDF(); err != nil {
			return nil, drawingFailed(id, err)
		}
		details = map[string]any{"signed": false, "language": doc.Terms.Language, "terms_version": doc.Terms.Version}
	default:
		return nil, storage.Err(err, "agreement")
	}
	if err := audit.Record(ctx, s.DB, s.event(actor, s.now(), "agreement.downloaded", loan), details); err != nil {
		return nil, err
	}
	return f, nil
}

func (s *Service) event(actor *accounts.Actor, at time.Time, action string, l *inventory.Loan) audit.Event {
	return audit.Event{OccurredAt: at, ActorID: actor.IDPtr(), Action: action, SubjectType: "loan",
		SubjectID: l.ID, LoanID: &l.ID, ClientID: &l.ClientID, DeviceID: &l.DeviceID}
}

// document gathers what loan's agreement prints, in langCode or the
// client's preferred language.
func (s *Service) document(ctx context.Context, loan *inventory.Loan, langCode string) (*Document, error) {
	client, err := s.Clients.Record(ctx, s.DB, loan.ClientID)
	if err != nil {
		return nil, err
	}
	if langCode == "" {
		langCode = client.PreferredLanguage
		if _, err := ParseLanguage(langCode); err != nil {
			langCode = DefaultLanguage
		}
	}
	terms, err := s.Current(ctx, langCode)
	if err != nil {
		return nil, err
	}
	device, err := s.Loans.Device(ctx, loan.DeviceID)
	if err != nil {
		return nil, err
	}
	doc := &Document{Agency: s.CurrentAgency(ctx), LoanID: loan.ID, Terms: terms,
		ClientName: strings.TrimSpace(client.FirstName + " " + client.LastName), CaseNumber: client.CaseNumber,
		DeviceKind: string(device.Kind), Make: device.Make, Model: device.Model, Serial: device.Serial,
		IMEI: device.IMEI, AssetTag: device.AssetTag,
		IssuedAt: loan.IssuedAt, Location: s.location(), DueOn: loan.DueOn}
	for _, a := range device.Accessories {
		doc.Accessories = append(doc.Accessories, Accessory{Name: a.Name, ReplacementCostCents: a.ReplacementCostCents})
	}
	if loan.DataPlanID != nil {
		p, err := s.Loans.DataPlan(ctx, *loan.DataPlanID)
		if err != nil {
			return nil, err
		}
		doc.Plan = &Plan{Carrier: p.Carrier, LineNumber: p.LineNumber, DataCapMB: p.DataCapMB, EndsOn: p.EndsOn}
	}
	return doc, nil
}

func (s *Service) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// AgreementTerms returns the terms loan id's agreement prints now, in
// langCode or the client's preferred language, for whoever may print it
// (Agreement's rule). A signing page sends their version back as
// AcceptanceInput.TermsVersion, so that terms changed between the
// printing and the signing sign nothing.
func (s *Service) AgreementTerms(ctx context.Context, actor *accounts.Actor, id int64, langCode string) (*Terms, error) {
	loan, err := s.loan(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	doc, err := s.document(ctx, loan, langCode)
	if err != nil {
		return nil, err
	}
	return doc.Terms, nil
}
