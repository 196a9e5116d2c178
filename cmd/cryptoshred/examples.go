package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// commandExamples are the EXAMPLES of each command's help that does not
// write its own in its Description.
var commandExamples = map[string][]string{
	"init":                    {"VAULT_TOKEN=<operator token> cryptoshred init"},
	"backup protect":          {"cryptoshred backup protect casework-2019-11-30.tar --system casework --category health --out /backups", "pg_dump casework | cryptoshred backup protect - --name casework.sql --out s3://backups/casework"},
	"backup register":         {"cryptoshred backup register /backups/made-with-age.tar.age --system casework"},
	"backup list":             {"cryptoshred backup list", "cryptoshred backup list --case DPA-2021-0211 --format json"},
	"backup show":             {"cryptoshred backup show bk-01m8dbfaxrbvgr6ystt3g1ak58"},
	"backup dispose-original": {"cryptoshred backup dispose-original bk-01m8... --method deleted --note \"staging copy removed\"", "cryptoshred backup dispose-original bk-01m8... --method media-sanitized --note \"tapes wiped\" --evidence certificate.pdf"},
	"backup verify":           {"cryptoshred backup verify --case DPA-2021-0211", "cryptoshred backup verify bk-01m8... bk-01m9..."},
	"case list":               {"cryptoshred case list"},
	"case show":               {"cryptoshred case show DPA-2021-0211"},
	"hold place":              {"cryptoshred hold place --case DPA-2021-0211 --system casework", "cryptoshred hold place --case DPA-2021-0211 bk-01m8..."},
	"shred plan":              {"cryptoshred shred plan --case DPA-2021-0211"},
	"shred run":               {"cryptoshred shred run --case DPA-2021-0211 --sign-key signer.key --vault-snapshot-retention 30d -o deletion.dsse.json", "cryptoshred shred run --case DPA-2021-0211 --grace 7d --yes"},
	"shred cancel":            {"cryptoshred shred cancel --case DPA-2021-0211"},
	"attest verify":           {"cryptoshred attest verify deletion.dsse.json --key signer.pub", "cryptoshred attest verify deletion.dsse.json --key signer.pub --backup casework-2019-11-30.tar.age"},
	"attest show":             {"cryptoshred attest show deletion.dsse.json --key signer.pub", "cryptoshred attest show deletion.dsse.json --key signer.pub --format html -o certificate.html"},
	"ledger verify":           {"cryptoshred ledger verify"},
	"ledger show":             {"cryptoshred ledger show", "cryptoshred --format json ledger show"},
	"report access":           {"cryptoshred report access --since 18mo", "cryptoshred report access --vault-audit-log /var/log/vault/audit.log --fail-on-unrecorded"},
	"case controller add":     {"cryptoshred case controller add DPA-2021-0211 \"Example Agency\""},
	"hold release":            {"cryptoshred hold release --case DPA-2021-0211 bk-01m8... --reason \"held by mistake\""},
	"attest get":              {"cryptoshred attest get att-01m8... -o deletion.dsse.json"},
	"attest list":             {"cryptoshred attest list --case DPA-2021-0211"},
	"attest keygen":           {"cryptoshred attest keygen -o signer.key"},
	"backup open":             {"cryptoshred backup open bk-01m8... --purpose \"subject access request 17\" -o casework.tar"},
	"case open":               {"cryptoshred case open DPA-2021-0211 --authority \"Example DPA\" --reference \"J.nr. 1\" --controller \"Example Ministry\""},
	"case close":              {"cryptoshred case close DPA-2021-0211 --decision-ref \"closing letter\" --decision-file closing-letter.pdf --dry-run"},
	"hold list":               {"cryptoshred hold list --case DPA-2021-0211"},
	"attest witness":          {"cryptoshred attest witness deletion.dsse.json --key signer.pub --sign-key auditor.key -o deletion.witness.json"},
	"ledger export":           {"cryptoshred ledger export -o ledger-export.json", "cryptoshred ledger export --case DPA-2021-0211 -o dpa-2021-0211-ledger.json"},
	"backup dispose-restore":  {"cryptoshred backup dispose-restore bk-01m8... --output /restore/casework.tar --note \"deleted after the inspection\""},
}

// addExamples appends an EXAMPLES section to the help of every leaf
// command under prefix that does not have one yet, and the global
// options to all.
func addExamples(cmds []*cli.Command, prefix string) {
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) > 0 {
			addExamples(c.Subcommands, name)
			continue
		}
		if ex, ok := commandExamples[name]; ok && !strings.Contains(c.Description, "EXAMPLES:") {
			if c.Description != "" {
				c.Description += "\n\n"
			}
			c.Description += "EXAMPLES:\n   " + strings.Join(ex, "\n   ")
		}
		c.Description += "\n\n" + globalHelp
	}
}

// globalHelp reminds each command's help of the options every command
// takes, which urfave/cli lists only in the top-level help.
const globalHelp = "GLOBAL OPTIONS (before or after the command): --format text|json (csv where listed), " +
	"--vault-addr ADDR (VAULT_ADDR), --transit-mount, --kv-mount; see cryptoshred --help"
