#!/bin/bash
# encrypt() and decrypt() end to end: a flow encrypts a value with a key from
# secret() and decrypts it in the next task; values encrypted by the JDK's
# AES/GCM/NoPadding in Kestra's layout (tests/lib/AesGcm.java) decrypt in kite
# and kite's decrypt in the JDK (skipped without java); a wrong key, an
# altered value, a bad key length and a non-base64 value fail with one line
# that never shows the key.
set -u
KITE=${KITE:-build/kite}
ROOT=${ROOT:-$PWD}
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
pass=0; fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
render() { "$KITE" render "$1" 2>"$work/rerr"; }

key=$(head -c 32 /dev/urandom | base64 -w0)
other=$(head -c 32 /dev/urandom | base64 -w0)

cat >"$work/f.yaml" <<'YAML'
id: crypt
namespace: e2e.encrypt
tasks:
  - id: enc
    type: io.kestra.plugin.core.debug.Return
    format: "{{ encrypt(secret('AES_KEY'), 'db password: Zoë') }}"
  - id: dec
    type: io.kestra.plugin.core.log.Log
    message: "clear={{ decrypt(secret('AES_KEY'), outputs.enc.value) }}"
YAML
SECRET_AES_KEY=$(printf %s "$key" | base64 -w0) timeout 60 "$KITE" run "$work/f.yaml" --data "$work/data" --json >"$work/out" 2>"$work/err"
grep -q 'clear=db password: Zoë' "$work/err" && ok flow_roundtrip_with_secret_key || ko flow_roundtrip_with_secret_key "$(tail -3 "$work/err")"
enc=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([t for t in d["taskRunList"] if t["taskId"]=="enc"][0]["outputs"]["value"])' "$work/out" 2>/dev/null)
[ -n "$enc" ] && ! grep -q 'db password' <<<"$enc" && [ "$(printf %s "$enc" | base64 -d | wc -c)" -eq $((12 + 17 + 16)) ] \
    && ok output_is_iv_ciphertext_tag || ko output_is_iv_ciphertext_tag "enc='$enc'"

a=$(render "{{ encrypt('$key', 'same') }}"); b=$(render "{{ encrypt('$key', 'same') }}")
[ -n "$a" ] && [ "$a" != "$b" ] && ok fresh_iv_each_time || ko fresh_iv_each_time "$a / $b"

if command -v java >/dev/null; then
    v=$(java "$ROOT/tests/lib/AesGcm.java" enc "$key" 'made by the JDK ✓' 2>&1)
    [ "$(render "{{ decrypt('$key', '$v') }}")" = 'made by the JDK ✓' ] && ok jdk_encrypted_decrypts_in_kite || ko jdk_encrypted_decrypts_in_kite "$v: $(cat "$work/rerr")"
    k16=$(head -c 16 /dev/urandom | base64 -w0)
    v=$(java "$ROOT/tests/lib/AesGcm.java" enc "$k16" 'aes-128')
    [ "$(render "{{ decrypt('$k16', '$v') }}")" = 'aes-128' ] && ok jdk_aes128_decrypts_in_kite || ko jdk_aes128_decrypts_in_kite "$(cat "$work/rerr")"
    v=$(render "{{ encrypt('$key', 'made by kite é') }}")
    [ "$(java "$ROOT/tests/lib/AesGcm.java" dec "$key" "$v" 2>&1)" = 'made by kite é' ] && ok kite_encrypted_decrypts_in_jdk || ko kite_encrypted_decrypts_in_jdk "$v"
else
    echo "SKIP jdk interop: no java on this host"
fi

render "{{ decrypt('$other', '$a') }}" >/dev/null
grep -q "decrypt(): tag mismatch: the value was encrypted with another key, or altered" "$work/rerr" && ! grep -qF "$other" "$work/rerr" \
    && ok wrong_key_fails_without_showing_it || ko wrong_key_fails_without_showing_it "$(cat "$work/rerr")"
altered=$(python3 -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[20]^=1; print(base64.b64encode(b).decode())' "$a")
render "{{ decrypt('$key', '$altered') }}" >/dev/null
grep -q "tag mismatch" "$work/rerr" && ok altered_value_fails || ko altered_value_fails "$(cat "$work/rerr")"
render "{{ encrypt('c2hvcnQ=', 'x') }}" >/dev/null
grep -q "encrypt(): invalid AES key length: 5 bytes" "$work/rerr" && ok bad_key_length || ko bad_key_length "$(cat "$work/rerr")"
render "{{ decrypt('$key', '%%%') }}" >/dev/null
grep -q "decrypt(): the encrypted value is not base64 (byte 1)" "$work/rerr" && ok not_base64 || ko not_base64 "$(cat "$work/rerr")"
render "{{ encrypt('$key', 42) }}" >/dev/null
grep -q "encrypt(): 'plaintext' must be a string, not an integer" "$work/rerr" && ok plaintext_not_string || ko plaintext_not_string "$(cat "$work/rerr")"

# ---- encryptedOutputs: stored encrypted with kite.yml's encryption.secretKey ----------------
cat >"$work/eo.yaml" <<'YAML'
id: eo
namespace: e2e.encrypt
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "::{\"outputs\":{\"plain\":\"visible\"},\"encryptedOutputs\":{\"pw\":\"s3cret-Value-$((40 + 2))\"}}::"
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sh.vars.pw == 's3cret-Value-' ~ (40 + 2) }} {{ outputs.sh.vars.pw | length }}"
  - id: said
    type: io.kestra.plugin.core.log.Log
    message: "pw={{ outputs.sh.vars.pw }}"
YAML
printf 'encryption:\n  secretKey: "%s"\n' "$key" >"$work/kite.yml"
outs() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([t for t in d["taskRunList"] if t["taskId"]==sys.argv[2]][0]["outputs"]))' "$work/out" "$1" 2>/dev/null; }
timeout 60 "$KITE" run "$work/eo.yaml" --config "$work/kite.yml" --data "$work/data-eo" --json >"$work/out" 2>"$work/err"
stored=$(outs sh)
python3 -c 'import json,sys; v=json.loads(sys.argv[1])["vars"]; sys.exit(not (v["plain"] == "visible" and v["pw"]["type"] == "io.kestra.datatype:aes_encrypted" and len(v["pw"]["value"]) > 20))' "$stored" \
    && ok encrypted_outputs_stored_as_kestra_does || ko encrypted_outputs_stored_as_kestra_does "$stored"
enc=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["vars"]["pw"]["value"])' "$stored" 2>/dev/null)
[ "$(render "{{ decrypt('$key', '$enc') }}")" = "s3cret-Value-42" ] && ok encrypted_output_is_aes_gcm_under_the_key \
    || ko encrypted_output_is_aes_gcm_under_the_key "$(cat "$work/rerr")"
use=$(outs use)
[ "$use" = '{"value": "true 15"}' ] && ok encrypted_output_decrypted_for_the_next_task || ko encrypted_output_decrypted_for_the_next_task "use='$use'"
grep -q 'pw=\*\*\*\*\*\*' "$work/err" && ! grep -q 's3cret-Value-42' "$work/err" && ok encrypted_output_masked_in_logs \
    || ko encrypted_output_masked_in_logs "$(grep 'pw=' "$work/err")"
! grep -rqa 's3cret-Value-42' "$work/data-eo" && ok encrypted_output_not_in_the_data_folder \
    || ko encrypted_output_not_in_the_data_folder "$(grep -rla 's3cret-Value-42' "$work/data-eo")"
! grep -q 'stored in clear' "$work/err" && ok no_clear_warning_with_a_key || ko no_clear_warning_with_a_key "$(grep 'clear' "$work/err")"

# without a key: kept in clear, said, masked
timeout 60 "$KITE" run "$work/eo.yaml" --data "$work/data-eo2" --json >"$work/out" 2>"$work/err"
grep -q 'encryptedOutputs (1) are kept as outputs stored in clear: no encryption key (kite.yml encryption.secretKey' "$work/err" \
    && ok encrypted_outputs_without_key_warn || ko encrypted_outputs_without_key_warn "$(grep -i encrypted "$work/err")"
[ "$(outs use)" = '{"value": "true 15"}' ] && ok encrypted_outputs_without_key_still_read || ko encrypted_outputs_without_key_still_read "$(outs use)"
# KITE_ENCRYPTION_KEY does the same as the file; a bad key stops kite at start, naming the key
KITE_ENCRYPTION_KEY=$key timeout 60 "$KITE" run "$work/eo.yaml" --data "$work/data-eo3" --json >"$work/out" 2>"$work/err"
grep -q 'io.kestra.datatype:aes_encrypted' "$work/out" && ok encryption_key_from_environment || ko encryption_key_from_environment "$(tail -2 "$work/err")"
printf 'encryption:\n  secretKey: "c2hvcnQ="\n' >"$work/bad.yml"
timeout 60 "$KITE" run "$work/eo.yaml" --config "$work/bad.yml" --data "$work/data-eo4" >"$work/out" 2>"$work/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q 'encryption.secretKey' "$work/err" && grep -q 'invalid AES key length: 5 bytes' "$work/err" \
    && ok bad_encryption_key_refused_at_start || ko bad_encryption_key_refused_at_start "rc=$rc $(cat "$work/err")"
printf 'encryption:\n  secretkey: "%s"\n' "$key" >"$work/typo.yml"
timeout 60 "$KITE" run "$work/eo.yaml" --config "$work/typo.yml" --data "$work/data-eo5" >"$work/out" 2>"$work/err"
grep -q "unknown key 'secretkey' (did you mean 'secretKey'?)" "$work/err" && ok encryption_key_typo_named || ko encryption_key_typo_named "$(cat "$work/err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
