#!/usr/bin/env bash
# Builds `sluice` as it was at COMMIT, for bench_pipeline.sh --baseline-sluice (issue 15: the
# code before a change, measured in the same invocation as the code after it). The commit's
# tree is exported with `git archive` (no second worktree to register or prune) into
# DIR/src and built there with that commit's own release preset, target `sluice` only, -j2.
# The last line of output is the binary's path:
#
#   tests/bench/build_baseline.sh 4e9a193
#   tests/bench/bench_pipeline.sh --only wrk --baseline-sluice "$(tests/bench/build_baseline.sh 4e9a193 | tail -n 1)"
#
# DIR defaults to build/baseline/<commit> of this checkout (ignored by git). An existing
# DIR/src is built again incrementally, not exported twice, so the second call is quick; the
# first is a full build (about 5 minutes at -j2 on a busy 2-core machine): ccache does not
# help, as the unity build's generated sources name every file by its absolute path. Remove
# DIR with rm -rf when done (a few hundred MiB).
#
#   tests/bench/build_baseline.sh COMMIT [DIR]
set -euo pipefail

die() {
    echo "build_baseline: $*" >&2
    exit 1
}

[[ $# -ge 1 && $# -le 2 && $1 != -* ]] || {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMMIT=$(git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}") || die "'$1' is not a commit here"
DIR=${2:-$ROOT/build/baseline/${COMMIT:0:12}}

if [[ ! -f $DIR/src/CMakePresets.json ]]; then
    mkdir -p "$DIR/src"
    git -C "$ROOT" archive --format=tar "$COMMIT" | tar -x -C "$DIR/src" ||
        die "cannot export $COMMIT into $DIR/src"
fi
echo "build_baseline: building sluice at $(git -C "$ROOT" log -1 --format='%h %s' "$COMMIT") in $DIR/src ..." >&2
(cd "$DIR/src" && cmake --preset release >&2 && cmake --build --preset release -j2 --target sluice >&2) ||
    die "the build of $COMMIT failed (in $DIR/src)"
BIN="$DIR/src/build/release/app/sluice"
[[ -x $BIN ]] || die "the build finished but $BIN is missing"
echo "$BIN"
