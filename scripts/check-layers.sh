#!/bin/bash
# scripts/check-layers.sh: the layer rule of docs/architecture.md, checked.
#
# Layers stack in the order of LAYERS below (the Makefile's order). A file in
# src/<layer>/ (or one folder deeper) may include only headers of its own layer
# or of a layer below it, and never another layer's private header (*_int.h).
# Prints one line per violation, file:line: the include; exits 1 if any.
# scripts/layers.allow lists known exceptions ("file include" a line) that are
# being removed; an entry that no longer matches anything is reported too.
set -u
cd "$(dirname "$0")/.."
LAYERS="util storage store expr flow hub tasks engine sched server cli"
rank() {
    local i=0 l
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}
bad=0
allow=scripts/layers.allow
declare -A allowed=() used=()
if [ -f "$allow" ]; then
    while read -r af ai; do
        [[ -z "$af" || "$af" == \#* ]] && continue
        allowed["$af $ai"]=1
    done <"$allow"
fi
while IFS= read -r f; do
    me=${f#src/}; me=${me%%/*}
    mine=$(rank "$me")
    while IFS=: read -r n inc; do
        dir=${inc%%/*}; hdr=${inc#*/}
        theirs=$(rank "$dir")
        [ "$theirs" -lt 0 ] && continue
        if [ -n "${allowed["$f $inc"]:-}" ]; then used["$f $inc"]=1; continue; fi
        if [ "$theirs" -gt "$mine" ]; then
            echo "$f:$n: includes \"$inc\" from a higher layer ($dir above $me)"; bad=1
        elif [ "$dir" != "$me" ] && [[ "$hdr" == *_int.h ]]; then
            echo "$f:$n: includes \"$inc\", a private header of layer $dir"; bad=1
        fi
    done < <(awk '{ if (match($0, /^[ \t]*#[ \t]*include[ \t]*"[a-z]+\/[A-Za-z0-9_.\/]+"/)) {
                        s = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", s); sub(/"$/, "", s);
                        print FNR ":" s } }' "$f")
done < <(find src -name '*.[ch]' | sort)
for k in "${!allowed[@]}"; do
    [ -z "${used[$k]:-}" ] && { echo "$allow: '$k' no longer happens: remove the line"; bad=1; }
done
exit $bad
