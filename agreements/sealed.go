package agreements

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/devicebank/devicebank/keyring"
)

// A signed agreement's PDF names the client and carries their signature:
// it is sealed in the database, bound to the loan's row, under the data
// key sealed_key names. A signed agreement never changes otherwise; its
// PDF may only be sealed again (migration 0031's trigger), and what opens
// must match the SHA-256 recorded when it was signed.

// sealedAgreements is how signed agreements are sealed: their rows change
// only by being sealed again, and a PDF is compared by its key, not in SQL
// (keyring.SealedTable.MatchKey).
var sealedAgreements = keyring.SealedTable{Name: "loan_agreements", KeyColumn: "sealed_key", Columns: []string{"pdf"},
	IDColumn: "loan_id", MatchKey: true}

// sealBatch is how many agreements SealStored and Reseal write in one
// transaction: they are some 60 KB each.
const sealBatch = 50

func (s *Service) keys() *keyring.Ring {
	if s.Keys == nil {
		panic("agreements: Service.Keys is not set")
	}
	return s.Keys
}

func pdfPlace(loanID int64) keyring.Place {
	return keyring.Place{Table: sealedAgreements.Name, Column: "pdf", Row: loanID}
}

// sealed is a copy of a, its PDF sealed, to be stored.
func (s *Service) sealed(a *Acceptance) *Acceptance {
	out := *a
	v := s.keys().Seal(string(a.PDF), pdfPlace(a.LoanID))
	out.PDF, out.SealedKey = []byte(v), keyring.KeyOf(v)
	return &out
}

// openPDF opens a's PDF as stored, and checks it is the one signed.
func (s *Service) openPDF(a *Acceptance) ([]byte, error) {
	plain, err := s.keys().Unseal(string(a.PDF), pdfPlace(a.LoanID))
	if err != nil {
		return nil, fmt.Errorf("signed agreement of loan %d: %w", a.LoanID, err)
	}
	sum := sha256.Sum256([]byte(plain))
	if hex.EncodeToString(sum[:]) != a.SHA256 {
		return nil, fmt.Errorf("signed agreement of loan %d: the PDF stored is not the one signed (its SHA-256 differs)", a.LoanID)
	}
	return []byte(plain), nil
}

// SealStored seals the PDFs of the agreements signed before they were
// sealed (keyring.SealUnrecorded), and returns how many it sealed. SQL
// cannot seal, so the service runs it after its migrations.
func (s *Service) SealStored(ctx context.Context) (int, error) {
	return s.keys().SealUnrecorded(ctx, s.DB, sealedAgreements, sealBatch)
}

// Reseal seals again, under the current data key, every agreement whose
// PDF is under an older one (after keyring.RotateData), and returns how
// many (keyring.Ring.Reseal).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	return s.keys().Reseal(ctx, s.DB, sealedAgreements, sealBatch)
}
