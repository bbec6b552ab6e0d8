package accounts

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/text/unicode/norm"
)

// The password rules follow NIST SP 800-63B: a length in characters, no
// composition rules, and no password that is common or easy to guess.
const (
	// MinPasswordLength is the fewest characters a password may have.
	MinPasswordLength = 12
	// MaxPasswordLength is the most; it also bounds the work of checking one.
	MaxPasswordLength = 256
	// maxPasswordBytes bounds a password as typed, before it is normalised:
	// MaxPasswordLength characters of at most four bytes each.
	maxPasswordBytes = 4 * MaxPasswordLength
	// minPasswordScore is the zxcvbn score a new password needs: 3 means
	// at least 10^8 guesses, "safely unguessable" against online attacks
	// and a fair protection if the hashes leak, given argon2id.
	minPasswordScore = 3
	// strengthChars is how much of a password zxcvbn looks at: its cost
	// grows quickly with length, and a prefix this long that is weak makes
	// the whole weak enough to refuse.
	strengthChars = 100
)

// normalizePassword is the form of a password that is hashed and compared,
// so that the same password typed on two keyboards is the same password:
// Unicode NFC, with every other space as the ASCII space, as RFC 8265's
// OpaqueString profile does. Control characters (a tab, a line break) are
// refused. Unlike OpaqueString, joiners and variation selectors are kept,
// since phone keyboards type them inside emoji.
func normalizePassword(p string) (string, bool) {
	ok := utf8.ValidString(p)
	p = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			ok = false
		case unicode.Is(unicode.Zs, r):
			return ' '
		}
		return r
	}, p)
	return norm.NFC.String(p), ok
}

// passwordShape checks what can be checked of a new password without
// knowing whose it is. It returns the password normalised, and what is
// wrong with it or "". Length is counted in characters (code points), not
// bytes: three emoji are three characters.
func passwordShape(p string) (string, string) {
	n, ok := normalizePassword(p)
	switch {
	case p == "":
		return "", "is required"
	case !ok:
		return "", "must not contain control characters, such as a tab or a line break"
	}
	runes := []rune(n)
	switch {
	case len(runes) < MinPasswordLength:
		return "", "must be at least 12 characters"
	case len(runes) > MaxPasswordLength:
		return "", "must be at most 256 characters"
	case strings.TrimFunc(n, unicode.IsSpace) == "":
		return "", "must not be only spaces"
	case strings.Count(n, string(runes[0])) == len(runes):
		return "", "must not be one character repeated"
	}
	return n, ""
}

// passwordStrength says what is wrong with a new password (already through
// passwordShape) for the person described by about (their email and name),
// or "": it must not be a common password, a word or name with a few
// changes, a keyboard pattern or a date, nor built on their own details.
func passwordStrength(p string, about ...string) string {
	if utf8.RuneCountInString(p) > strengthChars {
		p = string([]rune(p)[:strengthChars])
	}
	if zxcvbn.PasswordStrength(p, personalWords(about...)).Score < minPasswordScore {
		return "is too common or too easy to guess: try a few unrelated words"
	}
	return ""
}

// personalWords are what an attacker tries first against one person: the
// parts of their email and name, and the product's name.
func personalWords(about ...string) []string {
	words := []string{"devicebank"}
	for _, s := range about {
		s = strings.ToLower(s)
		words = append(words, s)
		words = append(words, strings.FieldsFunc(s, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r)
		})...)
	}
	return words
}

// passwordForms are the forms of a password to compare with a stored hash:
// the normalised one, and the password as typed when that differs, since
// hashes made before normalisation was introduced are of what was typed.
func passwordForms(p string) []string {
	if n, ok := normalizePassword(p); ok && n != p {
		return []string{n, p}
	}
	return []string{p}
}
