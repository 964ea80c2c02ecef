#!/usr/bin/env bash
# Clean-build times of two commits, measured one after the other on this machine (issue 16
# item 6: "the release and ASan compile times, before and after, the same machine, the same
# hour"). Each commit is exported with `git archive` into DIR/<commit> and built from nothing
# with its own asan and release presets, -j2, ccache off, and the script prints wall and CPU
# (user + system of every compiler and linker) seconds per build, and after ÷ before.
#
#   scripts/build-times.sh BEFORE [AFTER] [DIR]
#   scripts/build-times.sh --levers [COMMIT] [DIR]
#
# --levers builds one commit (default HEAD) twice per preset: without the build-speed levers of
# cmake/SluiceBuildSpeed.cmake (-DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DSLUICE_UNITY_BUILD=OFF
# -DSLUICE_USE_LLD=OFF) and with them, so the same code is compared; two commits differ in code
# as well as in how it is built.
#
# PRESETS="asan" (or "release") measures one preset only. AFTER_FIRST=1 builds AFTER before
# BEFORE: the machine's speed drifts by 10-20% within an hour when other work shares it, and a
# second run in the other order shows how much of a ratio is that drift.
#
# AFTER defaults to HEAD, DIR to /tmp/sluice-build-times. A full run is four clean builds,
# about 40 minutes on two cores; run it on an otherwise idle machine, since wall time follows
# whatever else runs (CPU time much less so).
set -euo pipefail

LEVERS=0
if [[ ${1:-} == --levers ]]; then
    LEVERS=1
    shift
    set -- "${1:-HEAD}" "${1:-HEAD}" "${2:-}"
fi
[[ $# -ge 1 && $1 != -* ]] || {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resolve() { git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}" || { echo "build-times: '$1' is not a commit" >&2; exit 2; }; }
BEFORE=$(resolve "$1")
AFTER=$(resolve "${2:-HEAD}")
DIR=${3:-/tmp/sluice-build-times}
[[ -n $DIR ]] || DIR=/tmp/sluice-build-times
export CCACHE_DISABLE=1

declare -A WALL CPU
build() { # commit preset [cmake flags...]
    local commit=$1 preset=$2 src="$DIR/${1:0:12}" t0 t1
    shift 2
    rm -rf "$src/build/$preset"
    if [[ ! -f $src/CMakePresets.json ]]; then
        mkdir -p "$src"
        git -C "$ROOT" archive --format=tar "$commit" | tar -x -C "$src"
    fi
    (cd "$src" && cmake --preset "$preset" "$@" >/dev/null)
    set -- "$commit" "$preset"
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

# Without --levers both commits build as their presets say; with it, BEFORE's build turns the
# levers off and AFTER's on.
OFF=() ON=()
if ((LEVERS)); then
    OFF=(-DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DSLUICE_UNITY_BUILD=OFF -DSLUICE_USE_LLD=OFF)
    ON=(-UCMAKE_DISABLE_PRECOMPILE_HEADERS -DSLUICE_UNITY_BUILD=ON -DSLUICE_USE_LLD=ON)
fi
B_LABEL=${BEFORE:0:7} A_LABEL=${AFTER:0:7}
((LEVERS)) && B_LABEL="${BEFORE:0:7} levers off" A_LABEL="levers on"
read -r -a PRESET_LIST <<<"${PRESETS:-asan release}"
declare -A B_WALL B_CPU A_WALL A_CPU
for preset in "${PRESET_LIST[@]}"; do
    if [[ ${AFTER_FIRST:-0} == 1 ]]; then
        build "$AFTER" "$preset" "${ON[@]}"
        build "$BEFORE" "$preset" "${OFF[@]}"
    else
        build "$BEFORE" "$preset" "${OFF[@]}"
        build "$AFTER" "$preset" "${ON[@]}"
    fi
    B_WALL[$preset]=${WALL[$BEFORE/$preset]} B_CPU[$preset]=${CPU[$BEFORE/$preset]}
    A_WALL[$preset]=${WALL[$AFTER/$preset]} A_CPU[$preset]=${CPU[$AFTER/$preset]}
done

printf '\n| build | %s wall | %s wall | ratio | %s CPU | %s CPU | ratio |\n' \
    "$B_LABEL" "$A_LABEL" "$B_LABEL" "$A_LABEL"
printf '|---|---|---|---|---|---|---|\n'
for preset in "${PRESET_LIST[@]}"; do
    printf '| %s | %.0f s | %.0f s | %.2f | %.0f s | %.0f s | %.2f |\n' "$preset" \
        "${B_WALL[$preset]}" "${A_WALL[$preset]}" \
        "$(echo "${A_WALL[$preset]} / ${B_WALL[$preset]}" | bc -l)" \
        "${B_CPU[$preset]}" "${A_CPU[$preset]}" \
        "$(echo "${A_CPU[$preset]} / ${B_CPU[$preset]}" | bc -l)"
done
