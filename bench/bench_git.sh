#!/bin/bash
# bench_git.sh: the time to sync 1,000 flows from a Git repository with
# `kite flow sync` (a bare repository over file://): the first sync (1,000
# added), a second one (1,000 unchanged), next to a bare `git clone` of the
# same repository (the floor: fetching the files). Figures only.
set -u
KITE=${KITE:-build/kite}
N=${N:-1000}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
git init -q --bare -b main "$w/repo.git"
git init -q -b main "$w/src"
mkdir -p "$w/src/_flows"
for i in $(seq 1 "$N"); do
    printf 'id: f%d\nnamespace: dev\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: "flow %d"\n' \
        "$i" "$i" >"$w/src/_flows/f$i.yml"
done
(cd "$w/src" && git add -A && git commit -qm flows && git push -q "$w/repo.git" main 2>/dev/null)
now() { date +%s.%N; }
t0=$(now); git clone -q "file://$w/repo.git" "$w/clone" 2>/dev/null; t1=$(now)
"$KITE" flow sync "file://$w/repo.git" --namespace bench --data "$w/data" >"$w/out1" 2>&1; t2=$(now)
"$KITE" flow sync "file://$w/repo.git" --namespace bench --data "$w/data" >"$w/out2" 2>&1; t3=$(now)
awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
    c = t1 - t0; a = t2 - t1; b = t3 - t2
    printf "git: bare git clone of %d flow files: %.3f s\n", n, c
    printf "git: kite flow sync, %d flows added: %.3f s (%.0f flows/s)\n", n, a, n / a
    printf "git: kite flow sync again, %d unchanged: %.3f s (%.0f flows/s)\n", n, b, n / b }'
tail -1 "$w/out1" | sed 's/^/git: first sync: /'
tail -1 "$w/out2" | sed 's/^/git: second sync: /'

# PushFlows of the N synced flows (namespace bench) to an empty repository: the
# write, the commit and the push (and kite run's start); next to a bare `git push`
# of the same files, committed beforehand (the floor).
git init -q --bare -b main "$w/push.git"
git init -q --bare -b main "$w/floor.git"
mkdir -p "$w/pflows"
cat >"$w/pflows/pusher.yaml" <<EOF2
id: pusher
namespace: bench
tasks:
  - id: pf
    type: io.kestra.plugin.git.PushFlows
    url: file://$w/push.git
    flows: "f*"
EOF2
t4=$(now); "$KITE" run "$w/pflows/pusher.yaml" --flows "$w/pflows" --data "$w/data" >"$w/out3" 2>&1; t5=$(now)
(cd "$w/src" && git push -q "$w/floor.git" main 2>/dev/null); t6=$(now)
pushed=$(git --git-dir="$w/push.git" ls-tree -r --name-only main 2>/dev/null | wc -l)
awk -v n="$pushed" -v a="$(echo "$t5 - $t4" | bc)" -v b="$(echo "$t6 - $t5" | bc)" 'BEGIN {
    printf "git: kite PushFlows of %d flows (clone, write, commit, push): %.3f s\n", n, a
    printf "git: bare git push of the same files, already committed: %.3f s\n", b }'
