#!/usr/bin/env bash
# Clean-build times of two commits, measured one after the other on this machine (issue 16
# item 6: "the release and ASan compile times, before and after, the same machine, the same
# hour"). Each commit is exported with `git archive` into DIR/<commit> and built from nothing
# with its own asan and release presets, -j2, ccache off, and the script prints wall and CPU
# (user + system of every compiler and linker) seconds per build, and after ÷ before.
#
#   scripts/build-times.sh BEFORE [AFTER] [DIR]
#
# AFTER defaults to HEAD, DIR to /tmp/sluice-build-times. A full run is four clean builds,
# about 40 minutes on two cores; run it on an otherwise idle machine, since wall time follows
# whatever else runs (CPU time much less so).
set -euo pipefail

[[ $# -ge 1 && $1 != -* ]] || {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resolve() { git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}" || { echo "build-times: '$1' is not a commit" >&2; exit 2; }; }
BEFORE=$(resolve "$1")
AFTER=$(resolve "${2:-HEAD}")
DIR=${3:-/tmp/sluice-build-times}
export CCACHE_DISABLE=1

declare -A WALL CPU
build() { # commit preset
    local src="$DIR/${1:0:12}" t0 t1
    rm -rf "$src/build/$2"
    if [[ ! -f $src/CMakePresets.json ]]; then
        mkdir -p "$src"
        git -C "$ROOT" archive --format=tar "$1" | tar -x -C "$src"
    fi
    (cd "$src" && cmake --preset "$2" >/dev/null)
    # bash's `times` reports the children's user and system seconds so far.
    local -a before after
    read -r -a before < <(cpu_seconds)
    t0=$(date +%s.%N)
    (cd "$src" && cmake --build --preset "$2" -j2 >"$src/build/$2.log" 2>&1) || {
        echo "build-times: ${1:0:12} $2 failed, see $src/build/$2.log" >&2
        exit 1
    }
    t1=$(date +%s.%N)
    read -r -a after < <(cpu_seconds)
    WALL[$1/$2]=$(echo "$t1 - $t0" | bc)
    CPU[$1/$2]=$(echo "${after[0]} - ${before[0]}" | bc)
    printf 'build-times: %s %-7s wall %6.0f s  cpu %6.0f s\n' "${1:0:12}" "$2" "${WALL[$1/$2]}" "${CPU[$1/$2]}" >&2
}
# The user + system seconds of all waited-for children of this shell, from /proc (bash's
# `times` prints minutes and seconds, awkward to add up).
cpu_seconds() {
    local tck fields
    tck=$(getconf CLK_TCK)
    read -r -a fields </proc/$$/stat
    # Fields 16 and 17 (cutime, cstime), counted from 1; the array counts from 0.
    echo "$(( (fields[15] + fields[16]) / tck ))"
}

for preset in asan release; do
    build "$BEFORE" "$preset"
    build "$AFTER" "$preset"
done

printf '\n| build | %s wall | %s wall | ratio | %s CPU | %s CPU | ratio |\n' \
    "${BEFORE:0:7}" "${AFTER:0:7}" "${BEFORE:0:7}" "${AFTER:0:7}"
printf '|---|---|---|---|---|---|---|\n'
for preset in asan release; do
    b=$BEFORE/$preset a=$AFTER/$preset
    printf '| %s | %.0f s | %.0f s | %.2f | %.0f s | %.0f s | %.2f |\n' "$preset" \
        "${WALL[$b]}" "${WALL[$a]}" "$(echo "${WALL[$a]} / ${WALL[$b]}" | bc -l)" \
        "${CPU[$b]}" "${CPU[$a]}" "$(echo "${CPU[$a]} / ${CPU[$b]}" | bc -l)"
done
