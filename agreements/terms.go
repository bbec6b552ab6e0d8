// Package agreements holds what a client signs for a loan: the agency's
// terms, kept per language as numbered versions that never change once
// saved, so that an agreement can name exactly the text it printed; the
// agreement itself, drawn as a PDF; and the record of its signing, which
// keeps the signed PDF so that it is the same bytes every time.
package agreements

import (
	"context"
	"embed"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"golang.org/x/text/language"

	"github.com/devicebank/devicebank/accounts"
	"github.com/devicebank/devicebank/apperr"
	"github.com/devicebank/devicebank/audit"
	"github.com/devicebank/devicebank/clients"
	"github.com/devicebank/devicebank/inventory"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// MaxTermsLength is the most characters (not bytes) a version's body may
// have.
const MaxTermsLength = 20000

// DefaultLanguage is the language of the terms printed when the agency has
// none in the one asked for.
const DefaultLanguage = "en"

//go:embed terms/*.txt
var shipped embed.FS

// Shipped returns the terms that ship for lang (a base language code),
// which are its version 1 until an admin saves another; false when none
// ship.
func Shipped(lang string) (string, bool) {
	b, err := shipped.ReadFile("terms/" + lang + ".txt")
	if err != nil {
		return "", false
	}
	return normalize(string(b)), true
}

// Terms is one version of the terms in one language. Saved versions are
// never changed: a loan's agreement names its (language, version).
type Terms struct {
	bun.BaseModel `bun:"table:agreement_terms,alias:at"`

	ID        int64     `bun:"id,pk,autoincrement" json:"-"`
	Language  string    `bun:"language" json:"language"`
	Version   int       `bun:"version" json:"version"`
	Body      string    `bun:"body" json:"body"`
	CreatedBy *int64    `bun:"created_by" json:"created_by"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
	// RequestedLanguage is the language asked for when the agency has no
	// terms in it and these, in English, are answered instead.
	RequestedLanguage string `bun:"-" json:"requested_language,omitempty"`
}

// TermsInput is new terms for one language.
type TermsInput struct {
	Body string `json:"body"`
}

// Paragraphs splits the body at its blank lines.
func (t *Terms) Paragraphs() []string { return strings.Split(t.Body, "\n\n") }

// Service keeps the terms, draws loan agreements and records their
// signing.
type Service struct {
	DB  *storage.DB
	Now func() time.Time
	// Keys seal the signed agreements' PDFs (sealed.go).
	Keys *keyring.Ring
	// Location is the agency's time zone, in which dates are printed; nil
	// means UTC.
	Location *time.Location
	// Agency is printed at the head of every agreement.
	Agency Agency
	// AgencyOf, when set, is the agency at use time (an admin may change
	// it); Agency is then unused.
	AgencyOf func(context.Context) Agency
	// Loans finds the loans (scoped to the actor), devices and data plans
	// an agreement prints.
	Loans *inventory.Service
	// Clients tells whether a coordinator may see the client an agreement
	// names (nil: every loan's client is visible with the loan).
	Clients *clients.Service
}

// CurrentAgency is the agency an agreement printed now names.
func (s *Service) CurrentAgency(ctx context.Context) Agency {
	if s.AgencyOf != nil {
		return s.AgencyOf(ctx)
	}
	return s.Agency
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

// ParseLanguage reads a language code ("es", "fr-CA") as the base
// language the terms are kept under ("es", "fr"); "" means English. An
// unknown or malformed code is refused, naming the field "language".
func ParseLanguage(code string) (string, error) {
	if code == "" {
		return DefaultLanguage, nil
	}
	bad := apperr.Fields{"language": "must be a known language code such as en, es or fr-CA"}
	if len(code) > 35 {
		return "", bad.Err()
	}
	tag, err := language.Parse(code)
	if err != nil {
		return "", bad.Err()
	}
	// The base as written: Base() would guess one ("en") for "und".
	base, _, _ := tag.Raw()
	if base.String() == "und" {
		return "", bad.Err()
	}
	return base.String(), nil
}

// Current returns the newest terms in lang (a code ParseLanguage reads),
// or, when the agency has none in it, the newest in English with
// RequestedLanguage set.
func (s *Service) Current(ctx context.Context, code string) (*Terms, error) {
	lang, err := ParseLanguage(code)
	if err != nil {
		return nil, err
	}
	t, err := s.newest(ctx, lang)
	if apperr.Is(err, apperr.NotFound) && lang != DefaultLanguage {
		if t, err = s.newest(ctx, DefaultLanguage); err == nil {
			t.RequestedLanguage = lang
		}
	}
	return t, err
}

// Version returns version v of the terms in lang, as printed on the
// agreements that name it; NotFound when lang has no such version (there
// is no falling back to English here).
func (s *Service) Version(ctx context.Context, code string, v int) (*Terms, error) {
	lang, err := ParseLanguage(code)
	if err != nil {
		return nil, err
	}
	read := func() (*Terms, error) {
		t := new(Terms)
		err := s.DB.NewSelect().Model(t).Where("language = ? AND version = ?", lang, v).Scan(ctx)
		return t, storage.Err(err, "agreement terms version")
	}
	t, err := read()
	// Version 1 of a shipped language is saved on first use: only then
	// does a read write.
	if v == 1 && apperr.Is(err, apperr.NotFound) {
		if err := s.saveShipped(ctx, lang); err != nil {
			return nil, err
		}
		t, err = read()
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// newest returns the newest version in lang, saving the shipped terms as
// version 1 first when lang has no version yet.
func (s *Service) newest(ctx context.Context, lang string) (*Terms, error) {
	t := new(Terms)
	err := s.DB.NewSelect().Model(t).Where("language = ?", lang).OrderExpr("version DESC").Limit(1).Scan(ctx)
	if apperr.Is(storage.Err(err, "agreement terms"), apperr.NotFound) {
		if _, ok := Shipped(lang); !ok {
			return nil, apperr.New(apperr.NotFound, "the agency has no agreement terms in this language")
		}
		if err := s.saveShipped(ctx, lang); err != nil {
			return nil, err
		}
		return s.newest(ctx, lang)
	}
	if err != nil {
		return nil, storage.Err(err, "agreement terms")
	}
	return t, nil
}

// saveShipped saves the shipped terms in lang as its version 1 if lang
// ships terms and has no version yet. Saving them, rather than printing
// the text built into the program each time, keeps "version 1" the same
// words after an upgrade changes the shipped text.
func (s *Service) saveShipped(ctx context.Context, lang string) error {
	if _, ok := Shipped(lang); !ok {
		return nil
	}
	return storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		_, err := s.next(ctx, tx, lang)
		return err
	})
}

// next takes the language's lock, saves the shipped terms as version 1 if
// the language has none yet, and returns the number the next version
// gets. Under the lock no other transaction saves a version in lang until
// this one ends.
func (s *Service) next(ctx context.Context, tx bun.Tx, lang string) (int, error) {
	if err := storage.LockName(ctx, tx, "agreement_terms:"+lang); err != nil {
		return 0, err
	}
	var newest int
	if err := tx.NewSelect().Model((*Terms)(nil)).ColumnExpr("COALESCE(MAX(version), 0)").
		Where("language = ?", lang).Scan(ctx, &newest); err != nil {
		return 0, storage.Err(err, "agreement terms")
	}
	if body, ok := Shipped(lang); ok && newest == 0 {
		v1 := &Terms{Language: lang, Version: 1, Body: body, CreatedAt: s.now()}
		if _, err := tx.NewInsert().Model(v1).Exec(ctx); err != nil {
			return 0, storage.Err(err, "agreement terms")
		}
		newest = 1
	}
	return newest + 1, nil
}

// Save makes the next version of the terms in lang from body, and records
// it in the audit trail. Two saves at once in one language make two
// versions, one after the other.
func (s *Service) Save(ctx context.Context, actor *accounts.Actor, code, body string) (*Terms, error) {
	return s.save(ctx, actor, code, body, -1)
}

// SaveOver is Save done only while version base is still the newest in
// the language (checked under the language's lock): a form opened on
// version base and sent twice, or after someone else saved, makes no
// second version but a Conflict.
func (s *Service) SaveOver(ctx context.Context, actor *accounts.Actor, code, body string, base int) (*Terms, error) {
	return s.save(ctx, actor, code, body, base)
}

// Versions lists the versions of the terms in lang (a code ParseLanguage
// reads), newest first, without their bodies.
func (s *Service) Versions(ctx context.Context, code string, page storage.Page) ([]Terms, int, error) {
	lang, err := ParseLanguage(code)
	if err != nil {
		return nil, 0, err
	}
	if err := s.saveShipped(ctx, lang); err != nil {
		return nil, 0, err
	}
	out := []Terms{}
	total, err := page.Apply(s.DB.NewSelect().Model(&out).ExcludeColumn("body").Where("language = ?", lang).
		OrderExpr("version DESC")).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, storage.Err(err, "agreement terms")
	}
	return out, int(total), nil
}

func (s *Service) save(ctx context.Context, actor *accounts.Actor, code, body string, base int) (*Terms, error) {
	lang, langErr := ParseLanguage(code)
	body, bodyErr := CheckBody(body)
	if err := apperr.Join(langErr, bodyErr); err != nil {
		return nil, err
	}
	t := &Terms{Language: lang, Body: body, CreatedBy: actor.IDPtr(), CreatedAt: s.now()}
	err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
		v, err := s.next(ctx, tx, lang)
		if err != nil {
			return err
		}
		if base >= 0 && v-1 != base {
			return apperr.New(apperr.Conflict, "version %d of these terms was saved since the page was opened (on version %d); nothing was saved: "+
				"open the page again to start from the newest", v-1, base)
		}
		t.Version = v
		if _, err := tx.NewInsert().Model(t).Exec(ctx); err != nil {
			return storage.Err(err, "agreement terms version")
		}
		return audit.Record(ctx, tx, audit.Event{OccurredAt: t.CreatedAt, ActorID: actor.IDPtr(),
			Action: "agreement_terms.created", SubjectType: "agreement_terms", SubjectID: t.ID},
			map[string]any{"language": t.Language, "version": t.Version, "characters": utf8.RuneCountInString(t.Body)})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// CheckBody returns the terms as they are kept: trimmed, with Windows line
// ends made plain and paragraphs separated by one blank line. It refuses,
// naming the field "body", terms that are empty, longer than
// MaxTermsLength characters, or hold control characters other than line
// breaks and tabs.
func CheckBody(body string) (string, error) {
	body = normalize(body)
	var bad apperr.Fields
	switch {
	case body == "":
		bad.Add("body", "is required: the terms as plain text, paragraphs separated by a blank line")
	case !utf8.ValidString(body):
		bad.Add("body", "must be text (UTF-8)")
	case utf8.RuneCountInString(body) > MaxTermsLength:
		bad.Add("body", "must be at most 20000 characters")
	case strings.IndexFunc(body, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		bad.Add("body", "must be plain text: no control characters other than line breaks and tabs")
	case strings.IndexFunc(body, func(r rune) bool { return r > 0xFFFF }) >= 0:
		bad.Add("body", "must not hold characters such as emoji (beyond the Basic Multilingual Plane), which the agreement's font cannot print")
	}
	return body, bad.Err()
}

// normalize trims the text, turns Windows line ends into plain ones, ends
// each line at its last visible character and separates paragraphs by
// exactly one blank line.
func normalize(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	blank := false
	for _, l := range lines {
		l = strings.TrimRightFunc(l, unicode.IsSpace)
		if l == "" {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
