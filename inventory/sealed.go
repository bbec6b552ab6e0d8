package inventory

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/devicebank/devicebank/keyring"
	"github.com/devicebank/devicebank/storage"
)

// A loan's notes (written when it is issued, returned and reported lost,
// and apt to speak of the client) are sealed in the database, each bound
// to its column and the loan's row; sealed_key names the data key they are
// under. They are written together, so that the key names them all. The
// struct holds them opened: sealed only on their way into the database.

// sealedLoans is how loans are sealed (keyring.SealedTable).
var sealedLoans = keyring.SealedTable{Name: "loans", KeyColumn: "sealed_key", Columns: []string{"notes", "return_notes", "lost_notes"}}

// UnreadableNote stands, in a list of loans, for a note that does not open
// (damaged, or sealed under a key the database no longer holds).
const UnreadableNote = "[this note does not open]"

// sealBatch is how many rows SealStored and Reseal write in one
// transaction.
const sealBatch = 500

// notesOf are l's notes, in sealedLoans' order of columns.
func notesOf(l *Loan) []*string { return []*string{&l.Notes, &l.ReturnNotes, &l.LostNotes} }

func (s *Service) keys() *keyring.Ring {
	if s.Keys == nil {
		panic("inventory: Service.Keys is not set")
	}
	return s.Keys
}

func notePlace(column string, id int64) keyring.Place {
	return keyring.Place{Table: sealedLoans.Name, Column: column, Row: id}
}

// openNotes opens l's notes, as read from its row.
func (s *Service) openNotes(l *Loan) error {
	for i, v := range notesOf(l) {
		plain, err := s.keys().Unseal(*v, notePlace(sealedLoans.Columns[i], l.ID))
		if err != nil {
			return fmt.Errorf("loan %d: %w", l.ID, err)
		}
		*v = plain
	}
	return nil
}

// openListed opens the notes of each of ls, for a list: a note that does
// not open is shown as UnreadableNote, the others as they are.
func (s *Service) openListed(ls []Loan) {
	for i := range ls {
		for j, v := range notesOf(&ls[i]) {
			plain, err := s.keys().Unseal(*v, notePlace(sealedLoans.Columns[j], ls[i].ID))
			if err != nil {
				plain = UnreadableNote
			}
			*v = plain
		}
	}
}

// sealedNotes are l's notes (opened) sealed for its row, then the key
// they are under (nil: no note): the arguments of setNotes.
func (s *Service) sealedNotes(l *Loan) []any {
	var out []any
	var sealed []string
	for i, v := range notesOf(l) {
		sv := s.keys().Seal(*v, notePlace(sealedLoans.Columns[i], l.ID))
		out, sealed = append(out, sv), append(sealed, sv)
	}
	return append(out, keyring.KeyOf(sealed...))
}

// setNotes sets every sealed column of a loan, and its key, from param
// (the values of sealedNotes).
func setNotes(q *bun.UpdateQuery, p storage.Param) *bun.UpdateQuery {
	return q.Set("notes = ?", p(0)).Set("return_notes = ?", p(1)).Set("lost_notes = ?", p(2)).Set("sealed_key = ?", p(3))
}

// SealStored seals the notes of the loans stored before they were sealed
// (keyring.SealUnrecorded), and returns how many loans it sealed. SQL
// cannot seal, so the service runs it after its migrations.
func (s *Service) SealStored(ctx context.Context) (int, error) {
	return s.keys().SealUnrecorded(ctx, s.DB, sealedLoans, sealBatch)
}

// Reseal seals again, under the current data key, every loan whose notes
// are under an older one (after keyring.RotateData), sealBatch per
// transaction, and returns how many (keyring.Ring.Reseal).
func (s *Service) Reseal(ctx context.Context) (int, error) {
	return s.keys().Reseal(ctx, s.DB, sealedLoans, sealBatch)
}
