package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

func TestEncodingsRoundTrip(t *testing.T) {
	for _, name := range []string{"bk-01jx0abc", newKey} {
		s, err := encodeRecipient(name)
		plug, data, perr := plugin.ParseRecipient(s)
		if err != nil || perr != nil || plug != pluginName || string(data) != name || !strings.HasPrefix(s, "age1cryptoshred1") {
			t.Errorf("recipient %q: %s %v %v", name, s, err, perr)
		}
	}
	for name, want := range map[string]string{anyKey: "", "bk-01jx0abc": "bk-01jx0abc"} {
		s, err := encodeIdentity(name)
		plug, data, perr := plugin.ParseIdentity(s)
		if err != nil || perr != nil || plug != pluginName || string(data) != want || !strings.HasPrefix(s, "AGE-PLUGIN-CRYPTOSHRED-1") {
			t.Errorf("identity %q: %s %v %v", name, s, err, perr)
		}
	}
	for _, bad := range []string{"../sys", "a b", strings.Repeat("k", 129)} {
		if _, err := encodeRecipient(bad); err == nil {
			t.Errorf("recipient %q accepted", bad)
		}
		if _, err := encodeIdentity(bad); err == nil {
			t.Errorf("identity %q accepted", bad)
		}
	}
}

func TestManualInvocation(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-recipient NAME") {
		t.Fatalf("no flags: exit %d, %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"-recipient", "new"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "age1cryptoshred1") {
		t.Fatalf("-recipient new: exit %d, %s", code, out.String())
	}
	if code := run([]string{"-identity", "a/b"}, &out, &errb); code != 2 {
		t.Fatalf("bad identity: exit %d", code)
	}
}

func TestIdentityLeavesOtherStanzasAlone(t *testing.T) {
	noVault := func() (*vault.Client, error) {
		t.Fatal("the identity asked Vault about a stanza that is not its own")
		return nil, errors.New("unreachable")
	}
	id, err := newIdentity(context.Background(), noVault, []byte("bk-mine"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas := []*age.Stanza{
		{Type: "X25519", Args: []string{"AAAA"}, Body: make([]byte, 32)},
		{Type: agefile.StanzaType, Args: []string{"bk-other"}, Body: []byte("vault:v1:AAAA")},
	}
	if _, err := id.Unwrap(stanzas); !errors.Is(err, age.ErrIncorrectIdentity) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := newIdentity(context.Background(), noVault, []byte("bad/name")); err == nil {
		t.Fatal("bad identity payload accepted")
	}
}
