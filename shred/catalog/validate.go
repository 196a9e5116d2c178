package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id is usable as a catalog id or a Vault key
// name: no path separators, no control characters, at most 128
// characters.
func ValidID(id string) bool { return idRE.MatchString(id) }

// CheckID returns an error naming kind unless id is a ValidID.
func CheckID(kind, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("invalid %s id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, Truncate(id, 40))
	}
	return nil
}

// Truncate shortens s to n bytes for an error message.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ValidCategory reports whether c is on the closed list of categories.
func ValidCategory(c string) bool { return slices.Contains(Categories, c) }

// CheckText rejects free text that is too long, is not UTF-8, or holds
// control or format characters (such as bidirectional overrides), so
// catalog fields print safely on a terminal.
func CheckText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unsafeRune) >= 0 {
		return fmt.Errorf("%s contains control characters or invalid UTF-8", what)
	}
	return nil
}

func unsafeRune(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }

// Metadata is what the operator says about a backup when protecting or
// registering it.
type Metadata struct {
	System      string
	Controllers []string
	Categories  []string
	Labels      map[string]string
}

// Validate checks the metadata against the catalog's rules.
func (m Metadata) Validate() error {
	if m.System != "" && !ValidID(m.System) {
		return fmt.Errorf("invalid system name %q: use 1 to 128 letters, digits, '.', '_' or '-'", Truncate(m.System, 40))
	}
	for _, c := range m.Controllers {
		if err := CheckText("controller", c, 256); err != nil || c == "" {
			return fmt.Errorf("invalid controller %q", Truncate(c, 40))
		}
	}
	if n := ControllerBytes(m.Controllers); n > MaxControllerBytes {
		return fmt.Errorf("the data controllers' names take %d bytes in an attestation, more than one backup may name (%d)", n, MaxControllerBytes)
	}
	for _, c := range m.Categories {
		if !ValidCategory(c) {
			return fmt.Errorf("unknown category %q: use one of %s", Truncate(c, 40), strings.Join(Categories, ", "))
		}
	}
	return checkLabels(m.Labels)
}

func checkLabels(labels map[string]string) error {
	for k, val := range labels {
		if !ValidID(k) {
			return fmt.Errorf("invalid label key %q", Truncate(k, 40))
		}
		if err := CheckText("label "+k, val, 256); err != nil {
			return err
		}
	}
	return nil
}

// MaxControllerBytes is the most bytes one backup's data controllers'
// names may take in an attestation's list of controllers, which every
// part of the attestation states.
const MaxControllerBytes = 4 << 10

// ControllerNames returns the distinct names of names that are not
// blank, in their order: the data controllers they name.
func ControllerNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if strings.TrimSpace(n) != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// ControllerBytes is how many bytes the data controllers names names take
// in an attestation's list of controllers, a comma after each.
func ControllerBytes(names []string) int {
	n := 0
	for _, name := range ControllerNames(names) {
		quoted, _ := json.Marshal(name)
		n += len(quoted) + 1
	}
	return n
}
