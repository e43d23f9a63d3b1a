#!/bin/bash
# io.kestra.plugin.aws.cli.AwsCLI (cli.aws_cli) through `kite run`: the real aws CLI against
# s3rver on loopback, the task's accessKeyId, secretKeyId, region, endpointOverride and
# outputFormat reaching it as AWS_* variables (endpointOverride as AWS_ENDPOINT_URL, which aws
# reads itself from 2.13 and 1.29 on; the commands pass it too, for Debian 12's aws 2.9) (a bucket made, a file copied in, the listing kept
# as an output file); the task's env wins over them; the secret never in a log; without aws on
# PATH the task fails naming the tool; STS properties are refused at validation, saying so.
# Without s3rver or the aws CLI: SKIP (FAIL under CI=true).
. "$(dirname "$0")/server_lib.bash"
ROOT=${ROOT:-$PWD}
S3RVER="$ROOT/tests/s3rver/node_modules/.bin/s3rver"
AWS=$(command -v aws 2>/dev/null)
# a pyenv shim is a script that finds its Python through PYENV_*: use the real one behind it
[ -n "$AWS" ] && command -v pyenv >/dev/null 2>&1 && p=$(pyenv which aws 2>/dev/null) && AWS=$p
why=
command -v node >/dev/null 2>&1 || why="node is not on PATH"
[ -z "$why" ] && [ ! -x "$S3RVER" ] && why="s3rver is not installed in tests/s3rver/node_modules (run scripts/setup.sh)"
[ -z "$why" ] && [ -z "$AWS" ] && why="the aws CLI is not on PATH (Debian package awscli)"
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL aws_cli: $why (CI=true: it must be there)"
        exit 1
    fi
    echo "SKIP aws_cli: $why"
    exit 0
fi
SPID=
stop_s3() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; }; }
trap 'stop_s3; cleanup' EXIT
SDIR="$work/s3rver"
mkdir -p "$SDIR"
SPORT=$(free_port)
NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" "$S3RVER" -d "$SDIR" -a 127.0.0.1 -p "$SPORT" --no-vhost-buckets >"$work/s3rver.log" 2>&1 &
SPID=$!
up=0
for _ in $(seq 1 400); do
    curl -s -o /dev/null "http://127.0.0.1:$SPORT/" && { up=1; break; }
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
done
if [ "$up" -ne 1 ]; then
    echo "FAIL aws_cli: s3rver did not start on 127.0.0.1:$SPORT"
    tail -20 "$work/s3rver.log"
    exit 1
fi
export SECRET_S3_SECRET=$(printf 'S3RVER' | base64)   # s3rver's built-in key pair is S3RVER/S3RVER
AWSDIR=$(dirname "$AWS")

cat >"$work/cli.yaml" <<YAML
id: cli
namespace: e2e.aws
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    accessKeyId: S3RVER
    secretKeyId: "{{ secret('S3_SECRET') }}"
    region: eu-west-3
    endpointOverride: http://127.0.0.1:$SPORT
    outputFormat: TEXT
    env:
      PATH: $AWSDIR:/usr/bin:/bin
    commands:
      # aws reads AWS_ENDPOINT_URL itself from 2.13 / 1.29 on; Debian 12's 2.9 needs it spelled out
      - aws s3api create-bucket --endpoint-url "\$AWS_ENDPOINT_URL" --bucket kite-cli --create-bucket-configuration LocationConstraint=eu-west-3
      - echo "hello from aws" > hello.txt
      - aws s3 cp --endpoint-url "\$AWS_ENDPOINT_URL" hello.txt s3://kite-cli/dir/hello.txt
      - aws s3api list-objects-v2 --endpoint-url "\$AWS_ENDPOINT_URL" --bucket kite-cli --output json > list.json
      - echo "::{\"outputs\":{\"region\":\"\$AWS_DEFAULT_REGION\",\"format\":\"\$AWS_DEFAULT_OUTPUT\",\"key\":\"\$AWS_SECRET_ACCESS_KEY\"}}::"
    outputFiles:
      - list.json
  - id: override
    type: io.kestra.plugin.aws.cli.AwsCLI
    region: eu-west-3
    env:
      PATH: $AWSDIR:/usr/bin:/bin
      AWS_DEFAULT_REGION: us-east-2
    commands:
      - echo "::{\"outputs\":{\"region\":\"\$AWS_DEFAULT_REGION\",\"format\":\"\$AWS_DEFAULT_OUTPUT\"}}::"
  - id: listing
    type: io.kestra.plugin.core.output.OutputValues
    values:
      text: "{{ read(outputs.aws.outputFiles['list.json']) }}"
YAML
"$KITE" run "$work/cli.yaml" --data "$work/data" --json >"$work/run.json" 2>"$work/run.err"
RC=$?
ok "AwsCLI ran to SUCCESS against s3rver (exit $RC)" bash -c "[ $RC -eq 0 ]" || tail -20 "$work/run.err"
out() { python3 -c "
import json; d=json.load(open('$work/run.json')); o={t['taskId']:t.get('outputs',{}) for t in d['taskRunList']}
$1" 2>&1; }
ok "the aws CLI made the bucket and copied the file into it (s3rver's files)" \
    bash -c "[ -d '$SDIR/kite-cli' ] && grep -q 'hello from aws' '$SDIR/kite-cli/dir/hello.txt._S3rver_object'"
ok "region and outputFormat reach aws as AWS_DEFAULT_REGION and AWS_DEFAULT_OUTPUT (lower case)" \
    out "v=o['aws']['vars']; assert v['region']=='eu-west-3' and v['format']=='text', v"
ok "outputFiles: the listing aws wrote is kept and names the key" \
    out "import json as J; t=J.loads(o['listing']['values']['text']); assert [c['Key'] for c in t['Contents']]==['dir/hello.txt'], t"
ok "the task's env wins over the task's properties; outputFormat defaults to json" \
    out "v=o['override']['vars']; assert v['region']=='us-east-2' and v['format']=='json', v"
ok "the secret key is masked in the outputs and never in a log" \
    bash -c "! grep -q 'S3RVER' '$work/run.err' && python3 -c \"import json; d=json.load(open('$work/run.json')); v=[t for t in d['taskRunList'] if t['taskId']=='aws'][0]['outputs']['vars']; assert v['key']!='S3RVER', v\""

cat >"$work/noaws.yaml" <<'YAML'
id: noaws
namespace: e2e.aws
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    env:
      PATH: /nonexistent
    commands:
      - aws --version
YAML
"$KITE" run "$work/noaws.yaml" --data "$work/data2" >"$work/noaws.out" 2>&1
RC=$?
ok "without aws on PATH the task fails naming the tool and its package" \
    bash -c "[ $RC -ne 0 ] && grep -q 'aws: not installed on this host (install the Debian package awscli' '$work/noaws.out'" ||
    tail -5 "$work/noaws.out"

cat >"$work/sts.yaml" <<'YAML'
id: sts
namespace: e2e.aws
tasks:
  - id: aws
    type: io.kestra.plugin.aws.cli.AwsCLI
    stsRoleArn: arn:aws:iam::123456789012:role/x
    commands:
      - aws sts get-caller-identity
YAML
"$KITE" validate --no-color "$work/sts.yaml" >"$work/sts.out" 2>&1
RC=$?
ok "stsRoleArn is refused at its line: kite does not assume roles yet" \
    bash -c "[ $RC -eq 1 ] && grep -q 'sts.yaml:6:5: error: .*stsRoleArn' '$work/sts.out'" || cat "$work/sts.out"
