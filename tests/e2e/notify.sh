#!/bin/bash
# The alert tasks (src/tasks/notify.c, notify_mail.c) against loopback
# servers that check what each service expects: tests/lib/hooksrv.py (plain
# and TLS, from a certificate made for the run) records every request, and
# the assertions read what arrived. Also: failures (refused, 5xx, timeout,
# TLS) name the target with its tokens masked, retries apply, a failing
# alert in `errors` does not hide the original failure, and the URL's tokens
# never reach the logs.
set -u
. "$(dirname "$0")/server_lib.bash"
PY=/usr/bin/python3
HOOKPIDS=()
stop_hooks() {
    for p in "${HOOKPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    cleanup
}
trap stop_hooks EXIT

mkdir -p "$work/rec" "$work/rec_tls" "$work/flows" "$work/tls"
sh tests/lib/mkcert.sh "$work/tls"
python3 tests/lib/hooksrv.py --dir "$work/rec" --max-seconds 300 >"$work/hook.port" &
HOOKPIDS+=($!)
python3 tests/lib/hooksrv.py --dir "$work/rec_tls" --tls "$work/tls/cert.pem" "$work/tls/key.pem" \
    --max-seconds 300 >"$work/hooks.port" &
HOOKPIDS+=($!)
for _ in $(seq 1 100); do
    [ -s "$work/hook.port" ] && [ -s "$work/hooks.port" ] && break
    sleep 0.05
done
H=http://127.0.0.1:$(head -1 "$work/hook.port")
HS=https://127.0.0.1:$(head -1 "$work/hooks.port")

# runflow NAME: runs $work/flows/NAME.yaml; the state in $work/NAME.state,
# the logs in $work/NAME.log
runflow() {
    "$KITE" run "$work/flows/$1.yaml" --data "$work/data" --json 2>"$work/$1.log" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["state"]["current"])' >"$work/$1.state" 2>/dev/null
    [ -s "$work/$1.state" ] || echo "?" >"$work/$1.state"
}
state_is() { [ "$(cat "$work/$1.state")" = "$2" ]; }
# recs DIR PATHPREFIX PYEXPR: PYEXPR over r (the list of records whose path
# starts with PATHPREFIX, in arrival order) is true
recs() {
    $PY - "$1" "$2" "$3" <<'PY'
import glob, json, os, sys
d, prefix, expr = sys.argv[1:]
r = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, "*.json")))]
r = [x for x in r if x["path"].startswith(prefix)]
for x in r:
    try:
        x["json"] = json.loads(x["body"])
    except ValueError:
        x["json"] = None
ok = eval(expr)
if not ok:
    print("  records:", json.dumps(r)[:1500])
sys.exit(0 if ok else 1)
PY
}
no_secret_in() { ! grep -q -- "$2" "$work/$1.log"; }

# ---- Slack ----------------------------------------------------------------------------
cat >"$work/flows/slack.yaml" <<EOF
id: slack
namespace: e2e.notify
tasks:
  - id: payload
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: $H/slack/T0SLACK1/B0SLACK2/tok3nSlackAAAA1
    payload: |
      {"text": "hello from {{ flow.id }}", "channel": "#ops"}
  - id: text
    type: io.kestra.plugin.slack.SlackIncomingWebhook
    url: $H/slack/T0SLACK1/B0SLACK2/tok3nSlackAAAA1
    messageText: "**done** see [the run](http://x.example/r)"
  - id: tls
    type: io.kestra.plugin.slack.notifications.SlackIncomingWebhook
    url: $HS/slack/T0SLACK1/B0SLACK2/tok3nSlackAAAA1
    payload: '{"text": "over TLS"}'
    options:
      headers: {X-Kite-Test: tls}
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: "the hook is $H/slack/T0SLACK1/B0SLACK2/tok3nSlackAAAA1"
EOF
# the TLS server's certificate is the run's own: SSL_CERT_FILE names the CA to trust
SSL_CERT_FILE="$work/tls/cert.pem" runflow slack
ok "slack: payload and messageText flows end SUCCESS" state_is slack SUCCESS
ok "slack: payload posted as JSON" recs "$work/rec" /slack/ \
    'r[0]["ok"] and r[0]["json"] == {"text": "hello from slack", "channel": "#ops"}'
ok "slack: messageText Markdown becomes mrkdwn" recs "$work/rec" /slack/ \
    'r[1]["json"] == {"text": "*done* see <http://x.example/r|the run>"}'
ok "slack: content type is application/json" recs "$work/rec" /slack/ \
    'all(x["headers"]["content-type"] == "application/json" for x in r)'
ok "slack: the webhook's token is not in the logs" no_secret_in slack tok3nSlackAAAA1
ok "slack: a task printing the URL shows it masked" grep -q 'the hook is \*\*\*\*\*\*' "$work/slack.log"
ok "slack: the log line names the target, tokens masked" \
    grep -q "slack: POST $H/slack/\*\*\*\*\*\*/\*\*\*\*\*\*/\*\*\*\*\*\*: HTTP 200" "$work/slack.log"
ok "slack: over TLS with the run's CA, headers from options" recs "$work/rec_tls" /slack/ \
    'len(r) == 1 and r[0]["json"] == {"text": "over TLS"} and r[0]["headers"].get("x-kite-test") == "tls"'

# ---- the generic webhook -------------------------------------------------------------
cat >"$work/flows/webhook.yaml" <<EOF
id: webhook
namespace: e2e.notify
tasks:
  - id: map
    type: notify.webhook
    url: $H/hook/map?key=w3bhookKey99
    payload: {event: done, count: 2}
    headers: {X-Signature: abc}
  - id: text
    type: notify.webhook
    url: $H/hook/text
    method: put
    contentType: text/plain
    payload: "plain {{ flow.namespace }}"
EOF
runflow webhook
ok "webhook: ends SUCCESS" state_is webhook SUCCESS
ok "webhook: a map is sent as JSON with the headers given" recs "$work/rec" /hook/map \
    'r[0]["json"] == {"event": "done", "count": 2} and r[0]["headers"]["x-signature"] == "abc" and r[0]["query"] == "key=w3bhookKey99"'
ok "webhook: method and content type as given" recs "$work/rec" /hook/text \
    'r[0]["method"] == "PUT" and r[0]["headers"]["content-type"] == "text/plain" and r[0]["body"] == "plain e2e.notify"'
ok "webhook: the query's key is masked in the logs" no_secret_in webhook w3bhookKey99

# ---- failures ----------------------------------------------------------------------------
# refused: a port nobody listens on
DEAD=$(free_port)
fail_case() { # NAME URL EXTRA_YAML: one SlackIncomingWebhook that must fail
    cat >"$work/flows/$1.yaml" <<EOF
id: $1
namespace: e2e.notify
tasks:
  - id: alert
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: $2
    payload: '{"text": "x"}'
$3
EOF
    runflow "$1"
}
fail_case refused "http://127.0.0.1:$DEAD/services/T0AAA/B0BBB/r3fusedTok" ""
ok "refused: the task fails" state_is refused FAILED
ok "refused: one line naming the target (masked) and the cause" \
    grep -q "slack: POST http://127.0.0.1:$DEAD/services/\*\*\*\*\*\*/\*\*\*\*\*\*/\*\*\*\*\*\*: connect: Connection refused" "$work/refused.log"
ok "refused: the token is not in the logs" no_secret_in refused r3fusedTok
fail_case http5xx "$H/status/503" ""
ok "5xx: the task fails naming the status and the answer" \
    grep -q "slack: POST $H/status/503: HTTP 503: status 503" "$work/http5xx.log"
fail_case timeout "$H/slow?s=3" "    options: {readTimeout: PT0.5S}"
ok "timeout: the task fails with a timeout" grep -q "slack: POST $H/slow?\*\*\*\*\*\*: timeout" "$work/timeout.log"
fail_case tlsbad "$HS/slack/T0TLS/B0TLS/tlsTok3nZZ" ""
ok "TLS: an untrusted certificate fails with a TLS error" \
    grep -q "slack: POST $HS/slack/\*\*\*\*\*\*/\*\*\*\*\*\*/\*\*\*\*\*\*: TLS: " "$work/tlsbad.log"
fail_case retried "$H/status/502" "    retry: {type: constant, interval: PT0.1S, maxAttempt: 3}"
ok "retries: a 502 is retried up to maxAttempt" recs "$work/rec" /status/502 'len(r) == 3'
ok "retries: and the task still fails" state_is retried FAILED

# a failing alert inside errors: logged, and the original failure stays
cat >"$work/flows/errs.yaml" <<EOF
id: errs
namespace: e2e.notify
tasks:
  - id: boom
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo disk full >&2", "exit 3"]
errors:
  - id: alert_ok
    type: io.kestra.plugin.notifications.slack.SlackExecution
    url: $H/slack/errs/T0ERR/B0ERR/errT0ken2
    customMessage: "on call: check the disk"
    customFields: {env: prod}
  - id: alert_down
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: http://127.0.0.1:$DEAD/slack/T0ERR/B0ERR/errT0ken
    payload: '{"text": "boom failed"}'
EOF
KITE_URL=http://kite.example:8080/ runflow errs
ok "errors: the execution ends FAILED" state_is errs FAILED
ok "errors: the original failure is in the logs" grep -q "boom .*Command failed with code 3" "$work/errs.log"
ok "errors: the failing alert is logged" grep -q "alert_down slack: POST http://127.0.0.1:$DEAD/slack/.*: connect: Connection refused" "$work/errs.log"
ok "errors: SlackExecution names the failed task, its error lines and the link" recs "$work/rec" /slack/errs/ \
    'len(r) == 1 and "Failed on task `boom`" in r[0]["json"]["text"] and "> disk full" in r[0]["json"]["text"] and "http://kite.example:8080/api/v1/executions/" in r[0]["json"]["text"]'
ok "errors: SlackExecution's fields (state, flow, custom)" recs "$work/rec" /slack/errs/ \
    'dict((f["title"], f["value"]) for f in r[0]["json"]["attachments"][0]["fields"]) == {"Namespace": "e2e.notify", "Flow ID": "errs", "Execution ID": r[0]["json"]["attachments"][0]["fields"][2]["value"], "Execution Status": "FAILED", "env": "prod", "Final task ID": "boom"} and r[0]["json"]["blocks"][0]["text"]["text"] == "on call: check the disk" and r[0]["json"]["attachments"][0]["color"] == "danger"'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
