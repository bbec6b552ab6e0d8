package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/calendar"
	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// personal is the part of a client record that is sealed in the database
// (the column personal), bound to the row: who the client is, how to reach
// them, and their situation. Only this package writes and opens it.
type personal struct {
	CaseNumber        string        `json:"case_number"`
	FirstName         string        `json:"first_name"`
	LastName          string        `json:"last_name"`
	Phone             string        `json:"phone,omitempty"`
	Email             string        `json:"email,omitempty"`
	PostalCode        string        `json:"postal_code,omitempty"`
	AnnualIncomeCents *int64        `json:"annual_income_cents,omitempty"`
	Programs          Codes         `json:"programs,omitempty"`
	ProofVerifiedOn   calendar.Date `json:"proof_verified_on,omitzero"`
	DateOfBirth       calendar.Date `json:"date_of_birth,omitzero"`
}

// The domains of the keyed digests kept beside a sealed record. Digests of
// one domain are comparable with each other only.
const (
	caseNumberDomain = "clients.case_number"
	phoneDomain      = "clients.phone"
	emailDomain      = "clients.email"
	searchDomain     = "clients.search"
)

// A search digest is kept of the first SearchMinLength characters of a
// client's case number, first and last name (lowercased; of the whole
// value when shorter); a search as long or longer narrows to the clients
// holding the digest of its first SearchMinLength characters, then matches
// the opened records. Postal codes keep their first PostalPrefixLength
// characters in plain text, for reports.
const (
	SearchMinLength    = 3
	PostalPrefixLength = 3
	// digestLength is how much of a search digest is kept (base64
	// characters: 96 bits). Matches are checked against the opened
	// record, so a rare collision costs a record opened, never a wrong
	// answer; a shorter digest is less to store.
	digestLength = 16
)

func place(id int64) keyring.Place {
	return keyring.Place{Table: "clients", Column: "personal", Row: id}
}

// keys is the service's key ring, which it cannot work without.
func (s *Service) keys() *keyring.Ring {
	if s.Keys == nil {
		panic("clients: Service.Keys is not set")
	}
	return s.Keys
}

// index sets what is kept beside the sealed record, from c's fields:
// the digests for equality lookups and the plain attributes reports read.
// It needs no id, so it can be done before the row is inserted.
func (s *Service) index(c *Client) {
	k := s.keys()
	c.CaseNumberIndex = k.BlindIndex(caseNumberDomain, c.CaseNumber)
	c.PhoneIndex, c.EmailIndex = nil, nil
	if c.Phone != "" {
		v := k.BlindIndex(phoneDomain, c.Phone)
		c.PhoneIndex = &v
	}
	if c.Email != "" {
		v := k.BlindIndex(emailDomain, c.Email)
		c.EmailIndex = &v
	}
	c.BirthYear = nil
	if !c.DateOfBirth.IsZero() {
		y := c.DateOfBirth.Year
		c.BirthYear = &y
	}
	c.PostalPrefix = postalPrefix(c.PostalCode)
	c.SearchCase, c.SearchFirst, c.SearchLast = s.searchDigest(searchText(c.CaseNumber)),
		s.searchDigest(searchText(c.FirstName)), s.searchDigest(searchText(c.LastName))
}

// seal seals c's personal fields into c.Personal, for its row (c.ID).
func (s *Service) seal(c *Client) error {
	b, err := json.Marshal(personal{CaseNumber: c.CaseNumber, FirstName: c.FirstName, LastName: c.LastName,
		Phone: c.Phone, Email: c.Email, PostalCode: c.PostalCode, AnnualIncomeCents: c.AnnualIncomeCents,
		Programs: c.Programs, ProofVerifiedOn: c.ProofVerifiedOn, DateOfBirth: c.DateOfBirth})
	if err != nil {
		return fmt.Errorf("seal client %d: %w", c.ID, err)
	}
	c.setPersonal(s.keys().Seal(string(b), place(c.ID)))
	return nil
}

// setPersonal sets c's sealed record, and the key it is sealed under.
func (c *Client) setPersonal(sealed string) {
	c.Personal, c.PersonalKey = sealed, keyring.KeyOf(sealed)
}

// open fills c's personal fields from c.Personal.
func (s *Service) open(c *Client) error {
	p, err := s.opened(c.ID, c.Personal)
	if err != nil {
		return err
	}
	c.CaseNumber, c.FirstName, c.LastName, c.Phone, c.Email = p.CaseNumber, p.FirstName, p.LastName, p.Phone, p.Email
	c.PostalCode, c.AnnualIncomeCents, c.Programs = p.PostalCode, p.AnnualIncomeCents, p.Programs
	c.ProofVerifiedOn, c.DateOfBirth = p.ProofVerifiedOn, p.DateOfBirth
	if c.Programs == nil {
		c.Programs = Codes{}
	}
	return nil
}

// opened opens the sealed record of client id.
func (s *Service) opened(id int64, sealed string) (personal, error) {
	var p personal
	plain, err := s.keys().Unseal(sealed, place(id))
	if err != nil {
		return p, fmt.Errorf("client %d: %w", id, err)
	}
	if plain == "" {
		return p, nil // anonymised: nothing personal is kept
	}
	if err := json.Unmarshal([]byte(plain), &p); err != nil {
		return p, fmt.Errorf("client %d: the sealed record does not read: %w", id, err)
	}
	return p, nil
}

// Unreadable stands in a list for the names of a client whose sealed
// record does not open (damaged, or copied from another row): the list
// still shows everyone else, and a read of that client fails.
const Unreadable = "(record does not open)"

// listed is what a list shows of client id, whose sealed record is
// sealed: the case number and names, with the key they sort by, or
// Unreadable for a record that does not open. The listings of the records
// listed recently are kept in memory, so that a list of thousands opens
// (and makes sort keys for) only the records changed since.
func (s *Service) listed(id int64, sealed string) listing {
	version := sealedVersion(sealed)
	if l, ok := s.listings().Get(id); ok && l.version == version {
		return l
	}
	l := listing{version: version, caseNumber: Unreadable, firstName: Unreadable, lastName: Unreadable}
	p, err := s.opened(id, sealed)
	if err == nil {
		l.caseNumber, l.firstName, l.lastName = p.CaseNumber, p.FirstName, p.LastName
	}
	l.sortKey = storage.SortKey(l.lastName, l.firstName)
	if err == nil {
		s.listings().Add(id, l)
	}
	return l
}

// listing is a client's case number and names as opened from one version
// of their sealed record, and the key they sort by.
type listing struct {
	version                         string // sealedVersion of the record opened
	caseNumber, firstName, lastName string
	sortKey                         []byte // storage.SortKey(lastName, firstName)
}

// listingsSize bounds how many clients' listings an instance keeps: some
// 150 bytes each (names, their sort key, the version).
const listingsSize = 20_000

// sealedVersion names one sealing of a record: the start of the sealed
// value, which holds the data key's id and the nonce, random for every
// seal. A record copied from another row brings that row's nonce, so it
// is never taken for this row's version (and then does not open).
func sealedVersion(sealed string) string {
	const n = len("dbk1:") + 40 // 30 bytes in base64: the key id (4), the nonce (24), 2 more
	if len(sealed) > n {
		return sealed[:n]
	}
	return sealed
}

func (s *Service) listings() *lru.Cache[int64, listing] {
	s.listingsOnce.Do(func() {
		c, err := lru.New[int64, listing](listingsSize)
		if err != nil {
			panic(err) // only for a size below 1
		}
		s.listingsCache = c
	})
	return s.listingsCache
}

// forget drops what the instance keeps opened of clients ids (erased).
func (s *Service) forget(ids []int64) {
	for _, id := range ids {
		s.listings().Remove(id)
	}
}

// postalPrefix is the start of a postal code kept in plain text for
// reports: its first PostalPrefixLength characters, in capitals.
func postalPrefix(code string) string {
	return firstRunes(strings.ToUpper(strings.TrimSpace(code)), PostalPrefixLength)
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// searchText is how names, case numbers and searches are compared.
func searchText(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// searchDigest is the digest of the first SearchMinLength characters of
// v (already searchText), or nil for a blank v: what search_case,
// search_first and search_last hold.
func (s *Service) searchDigest(v string) *string {
	if v == "" {
		return nil
	}
	d := s.keys().Digest(searchDomain, []byte(firstRunes(v, SearchMinLength)))[:digestLength]
	return &d
}

// PostalMatch is the condition on clients c that their postal code starts
// with prefix (capitals, no LIKE wildcard): the plain prefix for a short one; for a longer one, the
// clients of that plain prefix whose opened postal code starts with it (an
// anonymised client keeps only the plain prefix).
func (s *Service) PostalMatch(ctx context.Context, prefix string) (string, []any, error) {
	short := firstRunes(prefix, PostalPrefixLength)
	if short == prefix {
		return "c.postal_prefix LIKE ? ESCAPE '\\'", []any{storage.EscapeLike(prefix) + "%"}, nil
	}
	var rows []struct {
		ID       int64  `bun:"id"`
		Personal string `bun:"personal"`
	}
	if err := s.DB.NewSelect().Table("clients").Column("id", "personal").
		Where("postal_prefix = ? AND anonymised_at IS NULL", short).Scan(ctx, &rows); err != nil {
		return "", nil, storage.Err(err, "clients")
	}
	ids := []int64{0} // IN () is not SQL
	for _, r := range rows {
		p, err := s.opened(r.ID, r.Personal)
		if err == nil && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(p.PostalCode)), prefix) {
			ids = append(ids, r.ID)
		}
	}
	return "c.id IN (?)", []any{bun.In(ids)}, nil
}

// PhoneIndex is the digest under which a client's phone number (E.164) is
// found: what an SMS reply's sender is looked up by.
func (s *Service) PhoneIndex(e164 string) string {
	return s.keys().BlindIndex(phoneDomain, e164)
}

// byName orders clients by last name, then first name, then id, as the
// collation of storage.SortKey has it.
type byName struct {
	key []byte
	id  int64
}

func (a byName) compare(b byName) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

// Record returns client id whole, opened, for the service's own use (the
// reminder a client is sent, the agreement they sign): it checks nothing
// and records nothing, so callers check the actor first where there is one.
func (s *Service) Record(ctx context.Context, db bun.IDB, id int64) (*Client, error) {
	c := new(Client)
	if err := db.NewSelect().Model(c).Where("c.id = ?", id).Scan(ctx); err != nil {
		return nil, storage.Err(err, "client")
	}
	if err := s.open(c); err != nil {
		return nil, err
	}
	return c, nil
}

// storedPlain is a client row written before personal fields were sealed:
// what its plain columns hold.
type storedPlain struct {
	bun.BaseModel `bun:"table:clients,alias:c"`

	ID                int64         `bun:"id"`
	CaseNumber        string        `bun:"case_number"`
	FirstName         string        `bun:"first_name"`
	LastName          string        `bun:"last_name"`
	Phone             string        `bun:"phone"`
	Email             string        `bun:"email"`
	PostalCode        string        `bun:"postal_code"`
	AnnualIncomeCents *int64        `bun:"annual_income_cents"`
	Programs          Codes         `bun:"programs,type:text"`
	ProofVerifiedOn   calendar.Date `bun:"proof_verified_on,type:date,nullzero"`
	DateOfBirth       calendar.Date `bun:"date_of_birth,type:date,nullzero"`
}

// sealBatch is how many stored rows SealStored seals in one transaction.
const sealBatch = 500

// SealStored seals the client rows written before personal fields were
// sealed (migration 0027), blanking their plain columns, and returns how
// many it sealed. SQL cannot seal, so the service runs it after its
// migrations (serve, migrate). It is idempotent and safe with several
// instances: each row's write is conditional on its still being unsealed.
// The plain values may linger in the database's free pages until it is
// vacuumed (docs/privacy.md).
func (s *Service) SealStored(ctx context.Context) (int, error) {
	sealed := 0
	for {
		n := 0
		err := storage.InTx(ctx, s.DB, func(tx bun.Tx) error {
			var rows []storedPlain
			if err := tx.NewSelect().Model(&rows).Where("c.personal = '' AND c.anonymised_at IS NULL").OrderExpr("c.id").Limit(sealBatch).Scan(ctx); err != nil {
				return storage.Err(err, "clients")
			}
			n = len(rows)
			for _, r := range rows {
				c := &Client{ID: r.ID, CaseNumber: r.CaseNumber, FirstName: r.FirstName, LastName: r.LastName, Phone: r.Phone,
					Email: r.Email, PostalCode: r.PostalCode, AnnualIncomeCents: r.AnnualIncomeCents, Programs: r.Programs,
					ProofVerifiedOn: r.ProofVerifiedOn, DateOfBirth: r.DateOfBirth}
				s.index(c)
				if err := s.seal(c); err != nil {
					return err
				}
				res, err := tx.NewUpdate().Model(c).Column("personal", "personal_key", "case_number_index", "phone_index", "email_index",
					"birth_year", "postal_prefix", "search_case", "search_first", "search_last").
					Set("case_number = '', first_name = '', last_name = '', phone = '', email = '', postal_code = ''").
					Set("annual_income_cents = NULL, programs = '[]', proof_verified_on = NULL, date_of_birth = NULL, sort_key = NULL").
					WherePK().Where("personal = '' AND anonymised_at IS NULL").Exec(ctx)
				if err != nil {
					return storage.Err(err, "client")
				}
				if k, _ := res.RowsAffected(); k == 1 { // else another instance sealed it
					sealed++
				}
			}
			return nil
		})
		if err != nil {
			return sealed, err
		}
		if n < sealBatch {
			return sealed, nil
		}
	}
}

// CaseNumber opens the case number from client id's sealed record (its
// column personal), for a report that reads client rows itself; "" for a
// client anonymised, Unreadable for a record that does not open.
func (s *Service) CaseNumber(id int64, sealed string) string {
	return s.listed(id, sealed).caseNumber
}

// sealedClients is how a client's record is sealed: one column, personal,
// and its key, personal_key.
var sealedClients = keyring.SealedTable{Name: "clients", KeyColumn: "personal_key", Columns: []string{"personal"}}

// Reseal seals again, under the current data key, every client record
// sealed under an older one (after keyring.RotateData), sealBatch per
// transaction, and returns how many it resealed (keyring.Ring.Reseal).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	return s.keys().Reseal(ctx, s.DB, sealedClients, sealBatch)
}
