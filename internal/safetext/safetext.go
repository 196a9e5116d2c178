// Package safetext makes outside data safe to print: on a terminal, in a
// text report or in HTML, a control or format character (an escape
// sequence, a carriage return, a bidirectional override) in a name
// written by someone else must not be able to hide or forge what is
// printed around it.
package safetext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every control and format character, line and
// paragraph separator, and every byte that is not UTF-8, replaced by a
// visible escape (\x1b, \u202e, \u2028).
// Text without such characters is returned unchanged.
func Escape(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unsafe) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafe reports a control or format character, or a line or paragraph
// separator (U+2028, U+2029), which some viewers break a line at.
func unsafe(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}
