// Package safetext makes outside data safe to print: on a terminal, in a
// text report or in HTML, a control or format character (an escape
// sequence, a carriage return, a bidirectional override) in a name
// written by someone else must not be able to hide or forge what is
// printed around it.
package safetext

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
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

// JSON returns the encoded JSON b with every character Escape would
// escape from U+007F on written as a JSON \u escape: encoding/json
// escapes only those below U+0020 (and U+2028, U+2029), so DEL, the
// 8-bit CSI (U+009B) and bidirectional overrides in a value would reach a
// terminal raw. Such characters appear only inside strings, so the JSON
// stays valid and decodes to the same values.
func JSON(b []byte) []byte {
	// Only runes from U+007F are escaped below: JSON's own newlines
	// (Cc) must not send every indented document down the copying path.
	if utf8.Valid(b) && bytes.IndexFunc(b, func(r rune) bool { return r >= 0x7f && unsafe(r) }) < 0 {
		return b
	}
	var out bytes.Buffer
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if unsafe(r) && r >= 0x7f {
			writeJSONEscape(&out, r)
		} else {
			out.Write(b[:n])
		}
		b = b[n:]
	}
	return out.Bytes()
}

// writeJSONEscape writes r as JSON's \u escape: a surrogate pair above
// U+FFFF (format characters such as the tags from U+E0001 are there).
func writeJSONEscape(out *bytes.Buffer, r rune) {
	if hi, lo := utf16.EncodeRune(r); hi != utf8.RuneError {
		fmt.Fprintf(out, `\u%04x\u%04x`, hi, lo)
		return
	}
	fmt.Fprintf(out, `\u%04x`, r)
}

// unsafe reports a control or format character, or a line or paragraph
// separator (U+2028, U+2029), which some viewers break a line at.
func unsafe(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}
