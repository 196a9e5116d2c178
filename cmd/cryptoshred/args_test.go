package main

import (
	"slices"
	"testing"
)

func TestPermuteArgs(t *testing.T) {
	app := newApp(nil, nil, nil)
	cases := []struct{ in, want []string }{
		{[]string{"cs", "backup", "open", "bk-1", "--purpose", "p q", "-o", "f"},
			[]string{"cs", "backup", "open", "--purpose", "p q", "-o", "f", "--", "bk-1"}},
		{[]string{"cs", "--format", "json", "backup", "list"}, []string{"cs", "--format", "json", "backup", "list"}},
		{[]string{"cs", "shred", "run", "--case", "C", "--yes", "x"},
			[]string{"cs", "shred", "run", "--case", "C", "--yes", "--", "x"}},
		{[]string{"cs", "attest", "verify", "f", "--key=k", "--", "-weird"},
			[]string{"cs", "attest", "verify", "--key=k", "--", "f", "-weird"}},
		{[]string{"cs", "backup", "list", "--format", "json", "--state", "held"},
			[]string{"cs", "--format", "json", "backup", "list", "--state", "held"}},
		{[]string{"cs", "attest", "show", "f", "--format=html"},
			[]string{"cs", "attest", "show", "--format=html", "--", "f"}},
		{[]string{"cs", "ledger", "verify", "--vault-addr=http://x"},
			[]string{"cs", "--vault-addr=http://x", "ledger", "verify"}},
		{[]string{"cs", "backup", "protect", "a", "--generate-bash-completion"},
			[]string{"cs", "backup", "protect", "a", "--generate-bash-completion"}},
	}
	for _, c := range cases {
		if got := permuteArgs(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("permuteArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
