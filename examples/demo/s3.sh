# Sourced by demo.sh: the lifecycle with the backups on S3. A versitygw
# gateway on loopback, one S3 user per role, a bucket with Object Lock and
# the bucket policy of examples/s3/bucket-policy.json.
gw_bin=${VERSITYGW_BIN:-$("$root/tools/ensure-tool.sh" versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0)}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
s3_port=$(free_port)
s3_admin_port=$(free_port)
s3_url="http://127.0.0.1:$s3_port"
mkdir -p "$out/s3"/{iam,versions,data}
s3_root_key="root$RANDOM"
s3_root_secret="root-secret-$RANDOM$RANDOM"
ROOT_ACCESS_KEY=$s3_root_key ROOT_SECRET_KEY=$s3_root_secret "$gw_bin" --port "127.0.0.1:$s3_port" \
  --admin-port "127.0.0.1:$s3_admin_port" --iam-dir "$out/s3/iam" posix --versioning-dir "$out/s3/versions" \
  "$out/s3/data" >"$out/s3/versitygw.log" 2>&1 &
s3_pid=$!
for _ in $(seq 100); do curl -s "$s3_url" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s "$s3_url" >/dev/null 2>&1 || fail "versitygw did not start (see $out/s3/versitygw.log)"

s3_admin_key=s3-admin s3_admin_secret="admin-secret-$RANDOM$RANDOM"
s3_compliance_key=s3-compliance s3_compliance_secret="compliance-secret-$RANDOM$RANDOM"
for who in admin compliance; do
  key_var=s3_${who}_key secret_var=s3_${who}_secret
  "$gw_bin" admin -a "$s3_root_key" -s "$s3_root_secret" -er "http://127.0.0.1:$s3_admin_port" \
    create-user -a "${!key_var}" -s "${!secret_var}" -r user >>"$log" 2>&1 || fail "could not create the S3 user ${!key_var}"
done
# s3as ROLE: the AWS_* environment of that role's S3 user (root, admin, compliance).
s3as() {
  local key_var=s3_${1}_key secret_var=s3_${1}_secret
  export AWS_ACCESS_KEY_ID=${!key_var} AWS_SECRET_ACCESS_KEY=${!secret_var} AWS_ENDPOINT_URL_S3=$s3_url AWS_REGION=us-east-1
}
awscli() { aws --endpoint-url "$s3_url" --region us-east-1 "$@"; }

s3as root
expect 0 awscli s3api create-bucket --bucket backups --object-lock-enabled-for-bucket
sed -e "s/ADMIN_ACCESS_KEY_OR_ARN/$s3_admin_key/" -e "s/COMPLIANCE_ACCESS_KEY_OR_ARN/$s3_compliance_key/" \
  -e "s/BUCKET/backups/g" "$root/examples/s3/bucket-policy.json" >"$out/s3/bucket-policy.json"
expect 0 awscli s3api put-bucket-policy --bucket backups --policy "file://$out/s3/bucket-policy.json"
say "started versitygw at $s3_url: bucket 'backups' with Object Lock; the admin's S3 user may write and delete, the compliance user may hold"

role "$admin"
s3as admin
expect 0 "$cs" backup protect "$out"/data/*.tar --system permits --controller "Example Immigration Service" \
  --out s3://backups/permits
printf 'pg_dump output of the permits database\n' >"$out/s3/dump.sql"
expect 0 "$cs" backup protect - --name permits-db-2026-11-28.sql \
  --system permits --controller "Example Immigration Service" --out s3://backups/permits <"$out/s3/dump.sql"
expect 0 "$cs" --format json backup list --system permits
s3ids=($(grep -o '"id": "bk-[a-z0-9]*"' <<<"$last_out" | cut -d'"' -f4))
[ "${#s3ids[@]}" = 4 ] || fail "expected 4 backups on S3, got ${#s3ids[@]}"
say "backup admin protected 3 files and a pg_dump stream straight into S3 (multipart, no local copy of the stream)"

role "$compliance"
s3as compliance
expect 0 "$cs" case open DPA-2026-0042 --authority "Example Data Protection Authority" \
  --reference "J.nr. 2026-431-0042" --controller "Example Ministry"
expect 0 "$cs" hold place --case DPA-2026-0042 --system permits
say "compliance officer held them: Vault latches the keys, S3 Object Lock legal holds the objects"

s3as admin
expect 0 awscli s3api list-object-versions --bucket backups --prefix permits/
held_key=$(grep -o '"Key": "[^"]*"' <<<"$last_out" | head -1 | cut -d'"' -f4)
held_version=$(grep -o '"VersionId": "[^"]*"' <<<"$last_out" | head -1 | cut -d'"' -f4)
refusal=$(awscli s3api delete-object --bucket backups --key "$held_key" --version-id "$held_version" 2>&1) &&
  fail "S3 deleted a held object version: $refusal"
grep -q "AccessDenied" <<<"$refusal" || fail "S3 did not refuse the admin's delete of a held object: $refusal"
say "plain S3 delete of a held object version with the admin's own S3 credentials: refused by the storage itself (AccessDenied)"

printf 'Closing letter for J.nr. 2026-431-0042.\n' >"$out/closing-letter-2.txt"
role "$compliance"
s3as compliance
expect 0 "$cs" case close DPA-2026-0042 --decision-ref "J.nr. 2026-431-0042/closing letter" --decision-file "$out/closing-letter-2.txt" --yes
say "compliance officer closed the case: legal holds lifted, keys unlatched"

role "$admin"
s3as admin
expect 0 "$cs" shred run --case DPA-2026-0042 --yes --sign-key "$out/attest-signer.key" \
  --vault-snapshot-retention 720h --operator "Demo Operator" -o "$out/attestation-s3.dsse.json"
expect 0 awscli s3api list-object-versions --bucket backups --prefix permits/
! grep -q '"VersionId"' <<<"$last_out" || fail "object versions left on S3 after shred: $last_out"
expect 0 "$cs" attest verify "$out/attestation-s3.dsse.json" --key "$out/attest-signer.pub"
say "shred run: 4 keys destroyed, every S3 version deleted and none left (listed), attestation verified"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_S3 AWS_REGION
