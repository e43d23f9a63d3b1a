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

# ---- SMTP servers (aiosmtpd): plain, SMTPS and STARTTLS, the last two with AUTH -----
start_smtp() { # NAME ARGS...: starts tests/lib/smtpd.py; its port in $work/NAME.port
    local name=$1
    shift
    mkdir -p "$work/mail_$name"
    $PY tests/lib/smtpd.py --dir "$work/mail_$name" --max-seconds 300 "$@" >"$work/$name.port" 2>"$work/$name.err" &
    HOOKPIDS+=($!)
}
start_smtp plain
start_smtp smtps --user kite --password 'sm7p-Pass!' --implicit-tls "$work/tls/cert.pem" "$work/tls/key.pem"
start_smtp starttls --user kite --password 'sm7p-Pass!' --starttls "$work/tls/cert.pem" "$work/tls/key.pem"
for _ in $(seq 1 100); do
    [ -s "$work/plain.port" ] && [ -s "$work/smtps.port" ] && [ -s "$work/starttls.port" ] && break
    sleep 0.05
done
SP=$(head -1 "$work/plain.port")
SS=$(head -1 "$work/smtps.port")
ST=$(head -1 "$work/starttls.port")
export SECRET_SMTP_PASSWORD=$(printf '%s' 'sm7p-Pass!' | base64)
# mails NAME PYEXPR: PYEXPR over m (the messages received by server NAME,
# each with msg, the parsed email.message) is true
mails() {
    $PY - "$work/mail_$1" "$2" <<'PY'
import email, email.policy, glob, json, os, sys
d, expr = sys.argv[1:]
m = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, "*.json")))]
for x in m:
    x["msg"] = email.message_from_string(x["data"], policy=email.policy.default)
def parts(msg):
    return [(p.get_content_type(), p.get_filename(), p.get("Content-ID"),
             p.get_content() if not p.is_multipart() else None) for p in msg.walk()]
ok = eval(expr)
if not ok:
    print("  mails:", json.dumps([{k: v for k, v in x.items() if k != "msg"} for x in m])[:2000])
sys.exit(0 if ok else 1)
PY
}

cat >"$work/flows/mail_plain.yaml" <<YML
id: mail_plain
namespace: e2e.notify
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: $SP
    transportStrategy: SMTP
    from: Kite <kite@example.com>
    to: a@example.com; b@example.com
    subject: "plain from {{ flow.id }}"
    plainTextContent: "hello, just text"
YML
runflow mail_plain
ok "mail SMTP: ends SUCCESS" state_is mail_plain SUCCESS
ok "mail SMTP: envelope and headers" mails plain \
    'len(m) == 1 and m[0]["mail_from"] == "kite@example.com" and m[0]["rcpt_tos"] == ["a@example.com", "b@example.com"] and m[0]["msg"]["Subject"] == "plain from mail_plain" and m[0]["msg"]["To"] == "a@example.com, b@example.com" and not m[0]["tls"] and m[0]["login"] is None'
ok "mail SMTP: the text part" mails plain \
    '[p[3].strip() for p in parts(m[0]["msg"]) if p[0] == "text/plain"] == ["hello, just text"]'

cat >"$work/flows/mail_smtps.yaml" <<YML
id: mail_smtps
namespace: e2e.notify
tasks:
  - id: report
    type: io.kestra.plugin.core.storage.Write
    content: "id,value\n1,42\n"
    extension: .csv
  - id: logo
    type: io.kestra.plugin.core.storage.Write
    content: "PNGDATA"
    extension: .png
  - id: mail
    type: io.kestra.plugin.email.MailSend
    host: 127.0.0.1
    port: $SS
    username: kite
    password: "{{ secret('SMTP_PASSWORD') }}"
    from: kite@example.com
    to: ops@example.com
    cc: boss@example.com;audit@example.com
    subject: "Rapport ➛ été"
    htmlTextContent: '<p>See <img src="cid:logo.png"></p>'
    plainTextContent: "See the report"
    attachments:
      - uri: "{{ outputs.report.uri }}"
        name: report.csv
        contentType: text/csv
    embeddedImages:
      - uri: "{{ outputs.logo.uri }}"
        name: logo.png
        contentType: image/png
YML
SSL_CERT_FILE="$work/tls/cert.pem" runflow mail_smtps
ok "mail SMTPS: ends SUCCESS" state_is mail_smtps SUCCESS
ok "mail SMTPS: over TLS, AUTH as kite, cc among the recipients" mails smtps \
    'len(m) == 1 and m[0]["tls"] and m[0]["login"] == "kite" and sorted(m[0]["rcpt_tos"]) == ["audit@example.com", "boss@example.com", "ops@example.com"] and m[0]["msg"]["Cc"] == "boss@example.com, audit@example.com"'
ok "mail SMTPS: a UTF-8 subject" mails smtps 'str(m[0]["msg"]["Subject"]) == "Rapport ➛ été"'
ok "mail SMTPS: HTML and text parts" mails smtps \
    '[p[3].strip() for p in parts(m[0]["msg"]) if p[0] == "text/html"] == ["<p>See <img src=\"cid:logo.png\"></p>"] and [p[3].strip() for p in parts(m[0]["msg"]) if p[0] == "text/plain"] == ["See the report"]'
ok "mail SMTPS: the attachment, named, with its bytes" mails smtps \
    '[(p[1], p[3]) for p in parts(m[0]["msg"]) if p[0] == "text/csv"] == [("report.csv", "id,value\n1,42\n")]'
ok "mail SMTPS: the embedded image, Content-ID <logo.png>, in a multipart/related" mails smtps \
    '[p[2] for p in parts(m[0]["msg"]) if p[0] == "image/png"] == ["<logo.png>"] and "multipart/related" in [p[0] for p in parts(m[0]["msg"])]'
ok "mail SMTPS: the password is not in the logs" no_secret_in mail_smtps 'sm7p-Pass!'

cat >"$work/flows/mail_starttls.yaml" <<YML
id: mail_starttls
namespace: e2e.notify
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: $ST
    transportStrategy: SMTP_TLS
    username: kite
    password: "{{ secret('SMTP_PASSWORD') }}"
    from: kite@example.com
    to: ops@example.com
    subject: starttls
    htmlTextContent: "<b>html only</b>"
YML
SSL_CERT_FILE="$work/tls/cert.pem" runflow mail_starttls
ok "mail SMTP_TLS: STARTTLS then AUTH" mails starttls \
    'len(m) == 1 and m[0]["tls"] and m[0]["login"] == "kite" and [p[3].strip() for p in parts(m[0]["msg"]) if p[0] == "text/html"] == ["<b>html only</b>"]'

mail_fail() { # NAME PORT STRATEGY PASSWORD
    cat >"$work/flows/$1.yaml" <<YML
id: $1
namespace: e2e.notify
tasks:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailSend
    host: 127.0.0.1
    port: $2
    transportStrategy: $3
    username: kite
    password: "$4"
    from: kite@example.com
    to: ops@example.com
    plainTextContent: x
YML
}
mail_fail mail_badpw "$SS" SMTPS 'Wr0ng-Passw0rd'
SSL_CERT_FILE="$work/tls/cert.pem" runflow mail_badpw
ok "mail: a wrong password fails with AUTH, naming the server" \
    grep -q "mail: SMTP smtps://127.0.0.1:$SS: AUTH: the server refused the user or password" "$work/mail_badpw.log"
ok "mail: the wrong password is not in the logs" no_secret_in mail_badpw 'Wr0ng-Passw0rd'
mail_fail mail_untrusted "$SS" SMTPS 'x'
runflow mail_untrusted
ok "mail: an untrusted certificate fails with a TLS error" \
    grep -q "mail: SMTP smtps://127.0.0.1:$SS: TLS: " "$work/mail_untrusted.log"
mail_fail mail_refused "$DEAD" SMTP 'x'
runflow mail_refused
ok "mail: a refused connection" grep -q "mail: SMTP smtp://127.0.0.1:$DEAD: connect: Connection refused" "$work/mail_refused.log"
mail_fail mail_nostarttls "$SP" SMTP_TLS 'x'
runflow mail_nostarttls
ok "mail: SMTP_TLS against a server without STARTTLS fails" \
    grep -q "mail: SMTP smtp://127.0.0.1:$SP: STARTTLS: the server does not offer it" "$work/mail_nostarttls.log"

cat >"$work/flows/mail_exec.yaml" <<YML
id: mail_exec
namespace: e2e.notify
tasks:
  - id: load
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["echo 'table missing' >&2", "exit 1"]
errors:
  - id: mail
    type: io.kestra.plugin.notifications.mail.MailExecution
    host: 127.0.0.1
    port: $SP
    transportStrategy: SMTP
    from: kite@example.com
    to: ops@example.com
    customMessage: "please look"
YML
runflow mail_exec
ok "MailExecution: the subject names the flow and the state" mails plain \
    'len(m) == 2 and str(m[1]["msg"]["Subject"]) == "[e2e.notify] mail_exec ➛ FAILED"'
ok "MailExecution: HTML and text name the failed task and its error" mails plain \
    'all("Failed on task `load`" in p[3] and "table missing" in p[3] and "please look" in p[3] for p in parts(m[1]["msg"]) if p[0] in ("text/html", "text/plain"))'

# ---- every example of docs/notifications.md ---------------------------------------------
# The services' hosts become the test servers; each example's alert tasks must
# each have reached the server (HTTP: one request each, all accepted; SMTP: one
# mail each).
$PY - docs/notifications.md "$work/flows" "$H" "$SS" <<'PY'
import re, sys
doc, out, H, SS = sys.argv[1:]
text = open(doc).read()
subs = [("https://hooks.slack.com/services/", H + "/slack/"),
        ("https://example.webhook.office.com/", H + "/teams/"),
        ("https://chat.googleapis.com/v1/spaces/", H + "/gchat/"),
        ("https://discord.com/api/webhooks/", H + "/discord/"),
        ("https://api.telegram.org", H + "/telegram"),
        ("https://api.line.me/", H + "/line/"),
        ("https://notify.twilio.com/", H + "/twilio/"),
        ("https://events.pagerduty.com/", H + "/pagerduty/"),
        ("https://api.opsgenie.com/", H + "/opsgenie/"),
        ("https://example.zulipchat.com/", H + "/zulip/"),
        ("https://api.sendgrid.com/", H + "/sendgrid/"),
        ("https://api.squadcast.com/", H + "/squadcast/"),
        ("https://whatsapp.example.com/", H + "/whatsapp/"),
        ("https://www.zenduty.com/", H + "/zenduty/"),
        ("https://0123abcdef@o1.ingest.sentry.io/", H.replace("://", "://0123abcdef@") + "/sentry/"),
        ("host: smtp.example.com\n    port: 465", "host: 127.0.0.1\n    port: " + SS)]
# the services whose examples give no url (kite's default is the real API): one to the test server
for cls, url in (("x.XIncomingWebhook", H + "/x/2/tweets"), ("x.XExecution", H + "/x/2/tweets"),
                 ("messenger.MessengerExecution",
                  H + "/messenger/v23.0/9876543214587/messages?access_token=msgrT0kenABC")):
    t = "type: io.kestra.plugin.notifications." + cls + "\n"
    subs.append((t, t + "    url: " + url + "\n"))
names = []
for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
    for a, b in subs:
        block = block.replace(a, b)
    fid = re.search(r"^id: (\S+)", block, re.M).group(1)
    n = len(re.findall(r"type: (io\.kestra\.plugin\.(notifications|slack|microsoft365|email|line)\.)", block))
    open("%s/doc_%s.yaml" % (out, fid), "w").write(block)
    names.append("%s %d" % (fid, n))
open(out + "/doc_list", "w").write("\n".join(names) + "\n")
PY
nrec() { ls "$work/rec" | wc -l; }
while read -r fid n; do
    before=$(nrec)
    mbefore=$(ls "$work/mail_smtps" | wc -l)
    SSL_CERT_FILE="$work/tls/cert.pem" runflow "doc_$fid"
    after=$(nrec)
    mafter=$(ls "$work/mail_smtps" | wc -l)
    got=$((after - before + mafter - mbefore))
    ok "docs example $fid: its $n alerts arrived ($got)" eval '[ "$got" -eq "$n" ]'
    # on a miscount, say which requests those were
    [ "$got" -eq "$n" ] || ls "$work/rec" | tail -n +$((before + 1)) |
        while read -r f; do $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  ", sys.argv[1].rsplit("/",1)[1], r["method"], r["path"], r["status"])' "$work/rec/$f"; done
    ok "docs example $fid: every request was what the service expects" recs "$work/rec" / \
        "all(x['ok'] for x in r[$before:])"
    ok "docs example $fid: no alert task failed" eval '! grep -E "ERROR +(slack|teams|chat|discord|telegram|line|twilio|pagerduty|opsgenie|zulip|sendgrid|squadcast|whatsapp|sentry|zenduty|x|messenger|mail|hook)" "$work/doc_$fid.log"'
done <"$work/flows/doc_list"
ok "docs: Teams' MessageCard has the execution's facts" recs "$work/rec" /teams/ \
    'any(x["json"].get("@type") == "MessageCard" and {"name": "Execution Status", "value": "FAILED"} in x["json"]["sections"][0]["facts"] for x in r)'
ok "docs: PagerDutyExecution triggers an error event with the routing key" recs "$work/rec" /pagerduty/ \
    'any(x["json"]["event_action"] == "trigger" and x["json"]["payload"]["severity"] == "error" and x["json"].get("routing_key") == "R0UTINGKEY123" for x in r)'
ok "docs: Telegram's text names the flow" recs "$work/rec" /telegram/ \
    'len(r) == 2 and r[1]["json"]["chat_id"] == "-1001234567890" and "telegram_alert" in r[1]["json"]["text"]'
ok "docs: Twilio's form and basic auth" recs "$work/rec" /twilio/ \
    'all(x["headers"]["authorization"].startswith("Basic ") for x in r) and "Identity=ops" in r[0]["body"]'
ok "docs: Opsgenie's GenieKey" recs "$work/rec" /opsgenie/ \
    'all(x["headers"]["authorization"] == "GenieKey 0000-key" for x in r) and r[1]["json"]["priority"] == "P2" and r[1]["json"]["tags"] == ["kite"]'
ok "docs: LINE's broadcast with the bearer token" recs "$work/rec" /line/ \
    'r[0]["headers"]["authorization"] == "Bearer lineChannelT0ken" and "a run ended" in r[0]["json"]["messages"][0]["text"]'
ok "docs: SendGrid's personalizations" recs "$work/rec" /sendgrid/ \
    'r[0]["json"]["personalizations"][0]["to"] == [{"email": "ops@example.com"}] and r[0]["headers"]["authorization"] == "Bearer SG.k3y"'
ok "docs: the mail example's attachment and two recipients plus cc" mails smtps \
    'any(sorted(x["rcpt_tos"]) == ["boss@example.com", "data@example.com", "ops@example.com"] and [p[1] for p in parts(x["msg"]) if p[0] == "text/csv"] == ["report.csv"] for x in m)'
ok "docs: no token of the examples in their logs" eval '! grep -h -E "XXXXXXXXXXXXXXXX|abcdefTOKEN|ABC-DEF1234ghIkl|lineChannelT0ken|twilioT0ken|R0UTINGKEY123|zul1pKey|SG\.k3y|sqK3yABC123|waT0ken123|0123abcdef|zdK3yABC123|xB3arerT0ken42|xCs3cretABC|xAt0kenABC|xAs3cretABC|msgrT0kenABC" "$work"/doc_*.log'
ok "docs: Squadcast's execution event has Kestra's description, message, priority and tags" recs "$work/rec" /squadcast/ \
    'r[1]["json"]["message"] == "squadcast_alert ended" and r[1]["json"]["priority"] == "P2" and r[1]["json"]["tags"] == {"team": "data"} and r[1]["json"]["description"].startswith("*[company.team] squadcast_alert &rarr; ") and "\nFinal task ID: squadcast\nStatus: Succeeded\nDuration: " in r[1]["json"]["description"]'
ok "docs: WhatsApp's execution message: contacts and the execution's lines" recs "$work/rec" /whatsapp/ \
    'r[1]["json"]["contacts"] == [{"profile": {"name": "kite"}, "wa_id": "15550001111"}] and r[1]["json"]["messages"][0]["from"] == "15550002222" and r[1]["json"]["messages"][0]["text"]["body"][0] == "Namespace company.team" and r[1]["json"]["messages"][0]["type"] == "text"'
ok "docs: Sentry's envelopes to the endpoint the DSN gives, with the key" recs "$work/rec" /sentry/ \
    'len(r) == 2 and all(x["path"] == "/sentry/api/4505/envelope/" and "sentry_key=0123abcdef" in x["query"] for x in r) and r[0]["body"].splitlines()[2].find("failed") > 0'
ok "docs: SentryExecution's level, extra and message" recs "$work/rec" /sentry/ \
    '(lambda ev: ev["level"] == "warning" and ev["platform"] == "java" and ev["extra"]["team"] == "data" and ev["extra"]["Flow ID"] == "sentry_alert" and ev["message"]["message"].startswith("[company.team] sentry_alert"))(json.loads(r[1]["body"].splitlines()[2]))'
ok "docs: ZendutyExecution: resolved, the execution's id and facts, its title as message, the urls" recs "$work/rec" /zenduty/ \
    '(lambda v: v["alert_type"] == "resolved" and v["entity_id"] and v["summary"].startswith("Namespace company.team, Flow ID zenduty_alert") and v["message"].startswith("[company.team] zenduty_alert") and v["urls"] == ["https://runbooks.example.com/etl"])(r[1]["json"])'
ok "docs: XIncomingWebhook posts the message with the bearer token" recs "$work/rec" /x/ \
    'r[0]["json"] == {"text": "x_alert ran #Kestra"} and r[0]["headers"]["authorization"] == "Bearer xB3arerT0ken42"'
ok "docs: XExecution's post: Kestra's template, the custom message, the hashtags" recs "$work/rec" /x/ \
    'r[1]["json"]["text"].startswith("\u2139\ufe0f RUNNING: company.team.x_alert (Duration: ") and "\nnightly load\n#Kestra #Automation" in r[1]["json"]["text"]'
ok "docs: XExecution's OAuth 1.0a signature is the HMAC-SHA1 X computes" recs "$work/rec" /x/ "$(cat <<'PYX'
(lambda hdr: (lambda p: __import__("hmac").new(b"xCs3cretABC&xAs3cretABC", ("POST&" + __import__("urllib.parse").parse.quote("http://" + r[1]["headers"]["host"] + "/x/2/tweets", safe="") + "&" + __import__("urllib.parse").parse.quote("&".join("%s=%s" % (k, p[k]) for k in sorted(p) if k != "oauth_signature"), safe="")).encode(), "sha1").digest() == __import__("base64").b64decode(__import__("urllib.parse").parse.unquote(p["oauth_signature"])) and p["oauth_consumer_key"] == "xCk3yABC" and p["oauth_token"] == "xAt0kenABC")(dict((k.strip(), v.strip().strip('"')) for k, v in (kv.split("=", 1) for kv in hdr[6:].split(",")))))(r[1]["headers"]["authorization"])
PYX
)"
ok "docs: Messenger's message: the recipient, UPDATE, the execution's lines" recs "$work/rec" /messenger/ \
    'r[0]["json"]["recipient"] == {"id": "24745216345137108"} and r[0]["json"]["messaging_type"] == "UPDATE" and r[0]["json"]["message"]["text"].startswith("Execution RUNNING\n\nDetails:\n- ID: ") and "\n- Flow: messenger_alert\n- Started: " in r[0]["json"]["message"]["text"] and "- team: data" in r[0]["json"]["message"]["text"] and r[0]["query"] == "access_token=msgrT0kenABC"'

# X: too long a post, no credentials; Messenger: two recipients, textBody, a refused one
cat >"$work/flows/x_more.yaml" <<YML
id: x_more
namespace: e2e.notify
tasks:
  - id: long
    type: io.kestra.plugin.notifications.x.XIncomingWebhook
    url: $H/x/2/tweets
    bearerToken: tok
    message: "{{ range(1, 300) | join('') | slice(0, 281) }}"
    allowFailure: true
  - id: nocred
    type: io.kestra.plugin.notifications.x.XExecution
    url: $H/x/2/tweets
    allowFailure: true
  - id: two
    type: io.kestra.plugin.notifications.messenger.MessengerExecution
    url: $H/messenger/v23.0/1/messages?access_token=t0k
    pageId: "1"
    accessToken: t0k
    recipientIds: ["a1", "a2"]
    messagingType: RESPONSE
    textBody: hello
  - id: refused
    type: io.kestra.plugin.notifications.messenger.MessengerExecution
    url: $H/messenger/v23.0/1/messages
    pageId: "1"
    accessToken: t0k
    recipientIds: ["b1"]
    allowFailure: true
YML
xb=$(nrec)
runflow x_more
ok "X: a post over 280 characters fails before any request" grep -q "x: the post has 281 characters, more than X's 280" "$work/x_more.log"
ok "X: no credentials: the error names what to give" grep -q "x: give bearerToken, or consumerKey, consumerSecret, accessToken and accessSecret (OAuth 1.0a)" "$work/x_more.log"
ok "Messenger: one message per recipient, the messaging type and textBody" recs "$work/rec" /messenger/ \
    "[(x['json']['recipient']['id'], x['json']['messaging_type'], x['json']['message']['text']) for x in r[-3:-1]] == [('a1', 'RESPONSE', 'hello'), ('a2', 'RESPONSE', 'hello')]"
ok "Messenger: a refused request fails the task with Graph's answer" grep -q "messenger: POST .*: HTTP 400" "$work/x_more.log"

# Sentry: the store endpoint, a refused key, a bad eventId
cat >"$work/flows/sentry_more.yaml" <<YML
id: sentry_more
namespace: e2e.notify
tasks:
  - id: store
    type: io.kestra.plugin.notifications.sentry.SentryExecution
    dsn: ${H/:\/\//://k3yS@}/sentry/77
    endpointType: STORE
    eventId: 0123456789abcdef0123456789abcdef
  - id: bad_id
    type: io.kestra.plugin.notifications.sentry.SentryExecution
    dsn: ${H/:\/\//://k3yS@}/sentry/77
    eventId: not-an-id
YML
runflow sentry_more
ok "sentry: STORE posts the event itself, with the eventId given" recs "$work/rec" /sentry/api/77/store/ \
    'len(r) == 1 and r[0]["json"]["event_id"] == "0123456789abcdef0123456789abcdef" and r[0]["json"]["extra"]["Execution Status"] == "RUNNING"'
ok "sentry: a bad eventId fails naming the property" grep -q "property 'eventId': 'not-an-id' is not 32 lower-case hex digits" "$work/sentry_more.log"
ok "sentry: the DSN's key is not in the logs" no_secret_in sentry_more k3yS

# a telegram bot whose token the API refuses
cat >"$work/flows/tg_bad.yaml" <<YML
id: tg_bad
namespace: e2e.notify
tasks:
  - id: tg
    type: io.kestra.plugin.notifications.telegram.TelegramSend
    token: bad-T0ken
    channel: "1"
    payload: x
    endpointOverride: $H/telegram
YML
runflow tg_bad
ok "telegram: a refused token fails with the API's answer" grep -q "telegram: POST $H/telegram/\*\*\*\*\*\*/sendMessage: HTTP 401" "$work/tg_bad.log"

# ---- examples/flows/failure-alerts.yaml in `kite server local` ------------------------
# A failing flow and a succeeding one under `company`: exactly one Slack
# request and one mail, both about the failed execution.
mkdir -p "$work/srvflows"
cp examples/flows/failure-alerts.yaml "$work/srvflows/"
cat >"$work/srvflows/broken.yaml" <<YML
id: broken
namespace: company.team
tasks:
  - id: load
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken on purpose
YML
cat >"$work/srvflows/fine.yaml" <<YML
id: fine
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: fine
YML
mbefore=$(ls "$work/mail_smtps" | wc -l)
export SECRET_SLACK_WEBHOOK=$(printf '%s' "$H/slack/example/T0EXAMPLE/B0EXAMPLE/exampleT0ken" | base64 -w0)
export ENV_SMTP_HOST=127.0.0.1 ENV_SMTP_PORT=$SS SSL_CERT_FILE="$work/tls/cert.pem"
export KITE_URL=http://kite.example:8080
start_server "$work/server.err" --data "$work/srvdata" --flows "$work/srvflows"
ok "example: the server starts with the alert flow" [ -n "$SERVER_PID" ]
req POST /executions/company.team/fine
req POST /executions/company.team/broken
BROKEN=$(j "d['id']" 2>/dev/null)
ok "example: the failing execution is created" eval '[ -n "$BROKEN" ]'
for _ in $(seq 1 150); do
    n_slack=$(grep -l '"/slack/example/' "$work"/rec/*.json 2>/dev/null | wc -l)
    n_mail=$(($(ls "$work/mail_smtps" | wc -l) - mbefore))
    [ "$n_slack" -ge 1 ] && [ "$n_mail" -ge 1 ] && break
    sleep 0.2
done
sleep 2 # anything more that would come
unset SSL_CERT_FILE KITE_URL
ok "example: exactly one Slack message, about the failed execution" recs "$work/rec" /slack/example/ \
    'len(r) == 1 and r[0]["ok"] and "broken" in r[0]["json"]["text"] and "Failed on task `load`" in r[0]["json"]["text"] and r[0]["json"]["channel"] == "#data-alerts" and "'"$BROKEN"'" in r[0]["body"]'
ok "example: exactly one mail, about the failed execution" mails smtps \
    'len(m) == '"$((mbefore + 1))"' and str(m[-1]["msg"]["Subject"]) == "company.team.broken ended FAILED" and m[-1]["rcpt_tos"] == ["data-oncall@example.com"] and "broken on purpose" in m[-1]["data"]'
sqlite3 "$work/srvdata/kite.db" "SELECT message FROM logs" >"$work/srvlogs" 2>&1
ok "example: the alert's log line names the target, masked" grep -q "slack: POST $H/slack/example/\*\*\*\*\*\*/\*\*\*\*\*\*/\*\*\*\*\*\*: HTTP 200" "$work/srvlogs"
ok "example: the webhook's token is in no stored log line" eval '! grep -q exampleT0ken "$work/srvlogs" "$work/server.err"'
stop_server KILL

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
