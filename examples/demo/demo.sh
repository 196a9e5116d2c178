#!/usr/bin/env bash
# The whole cryptoshred lifecycle against a throw-away local dev Vault:
# protect, hold, open with a purpose, refused shred, closing decision, shred,
# signed attestation, verification, certificate, ledger and access report;
# then the same with the backups on S3 (a local versitygw gateway), where
# the storage itself refuses to delete a held object.
# Each step prints one line; the script exits non-zero if any step does not
# behave as shown. Outputs are left in the folder named at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cs=${CRYPTOSHRED_BIN:-$root/bin/cryptoshred}
vault_bin=${VAULT_BIN:-$("$root/tools/vault/ensure.sh")}
out=${DEMO_OUT:-$root/out/demo-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"/{data,backups,restore}
chmod 700 "$out"
log="$out/demo.log"
: >"$log"

n=0
say() { n=$((n + 1)); printf '%2d. %s\n' "$n" "$*"; }
fail() { echo "DEMO FAILED at step $n: $*" >&2; echo "(details in $log)" >&2; exit 1; }
# expect CODE CMD...: run CMD, logging its output, and fail unless it exits CODE.
expect() {
  local want=$1; shift
  local got=0
  echo "\$ ${*}" >>"$log"
  "$@" >>"$log.out" 2>>"$log" || got=$?
  cat "$log.out" >>"$log"
  last_out=$(cat "$log.out"); : >"$log.out"
  [ "$got" = "$want" ] || fail "expected exit $want, got $got from: $*"
}
role() { VAULT_TOKEN=$1; export VAULT_TOKEN; }

# --- a dev Vault on a free loopback port -------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18200)
export VAULT_ADDR="http://127.0.0.1:$port"
root_token="demo-root-$RANDOM$RANDOM"
VAULT_DISABLE_MLOCK=true "$vault_bin" server -dev -dev-root-token-id="$root_token" \
  -dev-listen-address="127.0.0.1:$port" -dev-no-store-token >"$out/vault.log" 2>&1 &
vault_pid=$!
s3_pid="" tsa_pid=""
trap 'kill $vault_pid $s3_pid $tsa_pid 2>/dev/null || true; wait $vault_pid $s3_pid $tsa_pid 2>/dev/null || true; rm -f "$log.out"' EXIT
for _ in $(seq 100); do curl -fs "$VAULT_ADDR/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$VAULT_ADDR/v1/sys/health" >/dev/null || fail "Vault did not start (see $out/vault.log)"
say "started a dev Vault $("$vault_bin" version | cut -d' ' -f2 | tr -d ,) at $VAULT_ADDR (in memory, gone when the demo ends)"

role "$root_token"
expect 0 "$cs" init
say "cryptoshred init: Transit mount with disable_upsert, KV v2 catalog, three policies"
expect 0 "$cs" init
grep -q "no change" <<<"$last_out" || fail "second init changed something"
say "cryptoshred init again: no change"

token() { VAULT_TOKEN=$root_token "$vault_bin" token create -no-default-policy -policy="$1" -display-name="$2" -field=token -ttl=1h; }
admin=$(token cryptoshred-admin backup-admin)
compliance=$(token cryptoshred-compliance compliance-officer)
auditor=$(token cryptoshred-auditor auditor)
say "created one Vault token per role: backup admin, compliance officer, auditor"

# --- synthetic backups of an old case-processing system ----------------------
"$here/sample-data.sh" "$out/data"
say "wrote 3 synthetic backups of the 'casework' system (no real personal data) to $out/data"

role "$admin"
expect 0 "$cs" backup protect "$out"/data/*.tar --system casework --controller "Example Immigration Service" \
  --category health --category biometric --category criminal --out "$out/backups"
expect 0 "$cs" --format json backup list --system casework
ids=($(grep -o '"id": "bk-[a-z0-9]*"' <<<"$last_out" | cut -d'"' -f4))
[ "${#ids[@]}" = 3 ] || fail "expected 3 protected backups, got ${#ids[@]}"
say "backup admin protected them: ${#ids[@]} age files, each under its own Transit key (${ids[0]}, ...)"

role "$compliance"
expect 0 "$cs" case open DPA-2021-0211 --authority "Example Data Protection Authority" \
  --reference "J.nr. 2021-431-0001" --controller "Example Ministry" --controller "Example Immigration Service"
say "compliance officer opened case DPA-2021-0211"
expect 0 "$cs" hold place --case DPA-2021-0211 --system casework
say "compliance officer placed legal holds on every casework backup"

role "$admin"
expect 0 "$cs" backup open "${ids[0]}" --purpose "DPA inspection copy, request 2021-0211/4" -o "$out/restore/inspection.tar"
cmp -s "$out/restore/inspection.tar" "$out/data/casework-2019-11-30.tar" || fail "restored file differs"
say "backup admin opened ${ids[0]} for a documented purpose: byte-identical to the original, recorded in the ledger"

"$cs" attest keygen -o "$out/attest-signer.key" --no-password >>"$log" 2>&1 || fail "keygen"
say "generated an attestation signing key pair (private key mode 0600)"

expect 4 "$cs" shred run --case DPA-2021-0211 --yes --sign-key "$out/attest-signer.key" --vault-snapshot-retention 720h
say "shred run while the case is open: refused by cryptoshred (exit 4)"
key_name=${ids[0]}
refusal=$("$vault_bin" delete "cryptoshred-transit/keys/$key_name" 2>&1 || true)
grep -q "deletion is not allowed for this key" <<<"$refusal" || fail "Vault did not refuse the held key's deletion: $refusal"
say "plain 'vault delete' of a held key with the admin token: refused by Vault itself (deletion is not allowed for this key)"

printf 'Example Data Protection Authority\nJ.nr. 2021-431-0001\nClosing letter: the case is closed; the controller may delete the backups.\n' >"$out/closing-letter.txt"
role "$compliance"
expect 0 "$cs" case close DPA-2021-0211 --decision-ref "J.nr. 2021-431-0001/closing letter" --decision-file "$out/closing-letter.txt" --yes
say "compliance officer recorded the closing decision: holds released, keys' deletion latch opened in Vault"

role "$admin"
cp "${out}/backups/casework-2019-11-30.tar.age" "$out/casework-2019-11-30.tar.age.copy-for-verification"
expect 0 "$cs" shred plan --case DPA-2021-0211
grep -q "3 to destroy, 0 skipped" <<<"$last_out" || fail "unexpected plan: $last_out"
[ "$(grep -c warning <<<"$last_out")" = 3 ] || fail "expected 3 warnings about undisposed originals"
say "shred plan: 3 to destroy (with a warning for each plaintext original not yet disposed of)"
# A local RFC 3161 timestamping authority (the sigstore timestamp-server).
tsa_bin=${TSA_BIN:-$("$root/tools/ensure-tool.sh" timestamp-server github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@v2.1.3)}
tsa_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tsa_url="http://127.0.0.1:$tsa_port"
"$tsa_bin" serve --host 127.0.0.1 --port "$tsa_port" --timestamp-signer memory --disable-ntp-monitoring \
  >"$out/timestamp-server.log" 2>&1 &
tsa_pid=$!
for _ in $(seq 100); do curl -fs -o "$out/tsa-chain.pem" "$tsa_url/api/v1/timestamp/certchain" 2>/dev/null && break; sleep 0.1; done
[ -s "$out/tsa-chain.pem" ] || fail "the timestamp authority did not start (see $out/timestamp-server.log)"
expect 0 "$cs" shred run --case DPA-2021-0211 --yes --sign-key "$out/attest-signer.key" \
  --vault-snapshot-retention 720h --operator "Demo Operator" -o "$out/attestation.dsse.json" \
  --bundle "$out/attestation.sigstore.json" --timestamp-url "$tsa_url/api/v1/timestamp"
[ "$(grep -c "^destroyed bk-.*verified gone" <<<"$last_out")" = 3 ] || fail "expected 3 destroyed backups: $last_out"
[ -z "$(ls "$out/backups")" ] || fail "ciphertexts left in $out/backups"
say "shred run: 3 keys destroyed and verified gone, ciphertexts deleted, attestation signed and timestamped (RFC 3161)"
expect 0 "$cs" attest verify "$out/attestation.sigstore.json" --key "$out/attest-signer.pub" --tsa-chain "$out/tsa-chain.pem"
grep -q "^PASS  timestamps" <<<"$last_out" || fail "the timestamp did not verify: $last_out"
kill "$tsa_pid" 2>/dev/null || true
say "the Sigstore bundle verifies with the authority's chain: trusted time $(grep -o 'trusted time [^,)]*' <<<"$last_out" | head -1 | cut -d' ' -f3-)"

expect 1 "$cs" backup open "${ids[0]}" --purpose "after shred" -o "$out/restore/too-late.tar"
grep -q "destroyed" "$log" || fail "open after shred did not say the key was destroyed"
say "backup open after shred fails: the key was destroyed"

expect 0 "$cs" attest verify "$out/attestation.dsse.json" --key "$out/attest-signer.pub" \
  --backup "$out/casework-2019-11-30.tar.age.copy-for-verification"
grep -q "^VERIFIED" <<<"$last_out" || fail "attest verify did not verify"
say "attest verify: $(grep -c '^PASS' <<<"$last_out") checks passed, $(grep -c '^WARN' <<<"$last_out") warning(s) (originals not disposed of)"
if [ -n "${COSIGN_BIN:-}" ]; then
  expect 0 "$COSIGN_BIN" verify-blob-attestation --key "$out/attest-signer.pub" --type https://cryptoshred.dev/deletion/v1 \
    --signature "$out/attestation.dsse.json" --insecure-ignore-tlog "$out/casework-2019-11-30.tar.age.copy-for-verification"
  say "cosign verify-blob-attestation: verified, with no code of ours"
fi
expect 0 "$cs" attest show "$out/attestation.dsse.json" --key "$out/attest-signer.pub" --format html -o "$out/certificate.html"
expect 0 "$cs" attest show "$out/attestation.dsse.json" --key "$out/attest-signer.pub" -o "$out/certificate.txt"
say "rendered the certificate of sanitization: certificate.html and certificate.txt"

role "$auditor"
"$cs" attest keygen --algorithm ed25519 --no-password -o "$out/auditor-witness.key" >>"$log" 2>&1 || fail "auditor keygen"
expect 0 "$cs" attest witness "$out/attestation.dsse.json" --key "$out/attest-signer.pub" \
  --sign-key "$out/auditor-witness.key" --operator "Demo Auditor" -o "$out/witness.dsse.json"
expect 0 "$cs" attest verify "$out/attestation.dsse.json" --key "$out/attest-signer.pub" \
  --witness "$out/witness.dsse.json" --witness-key "$out/auditor-witness.pub"
grep -q "^PASS  witness" <<<"$last_out" || fail "the witness did not verify: $last_out"
if [ -n "${COSIGN_BIN:-}" ]; then
  expect 0 "$COSIGN_BIN" verify-blob-attestation --key "$out/auditor-witness.pub" \
    --type https://cryptoshred.dev/deletion-witness/v1 --signature "$out/witness.dsse.json" --insecure-ignore-tlog \
    "$out/attestation.dsse.json"
fi
say "auditor witnessed it with a read-only token: keys and ciphertexts checked gone in Vault and on disk, ledger verified; both signatures verify (cosign too)"

# --- the same with the backups on S3 object storage under legal hold ---------
. "$here/s3.sh"

role "$auditor"
expect 0 "$cs" ledger verify
say "auditor: $last_out"
expect 0 "$cs" report access
say "auditor: access report lists $(($(wc -l <<<"$last_out") - 1)) open(s) of a backup, with who and why"
"$cs" report access >"$out/access-report.txt"
"$cs" ledger show >"$out/ledger.txt"
expect 0 "$cs" ledger export -o "$out/ledger-export.json"
expect 0 "$cs" ledger verify --attestation "$out/attestation.dsse.json" --attestation "$out/attestation-s3.dsse.json"
say "auditor: both attested ledger heads are still in the chain (no snapshot restored since)"

kill "$vault_pid" 2>/dev/null || true
wait "$vault_pid" 2>/dev/null || true
expect 0 env -u VAULT_TOKEN VAULT_ADDR=http://127.0.0.1:1 "$cs" ledger verify --file "$out/ledger-export.json"
grep -q "ledger OK" <<<"$last_out" || fail "offline ledger verify: $last_out"
say "the authority verifies the exported ledger with Vault stopped: every link and every role's signature"

echo "Demo complete. Outputs are in $out"
