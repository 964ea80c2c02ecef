#!/usr/bin/env bash
# clang-tidy with the checked-in .clang-tidy over every source of engine/, app/ and ui/ (tests/
# are out of scope). Fails on any finding (.clang-tidy makes every warning an error). Run by
# scripts/test.sh in CI; .clang-tidy says what each check costs. An argument narrows the run to
# the sources whose path matches it: `scripts/tidy.sh engine/limiter/`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/tidy
scope=${1:-(engine|app|ui)/}
start=$(date +%s)

# A build directory of its own, for its compile_commands.json only: one entry per real source
# (no unity batches) and no GCC precompiled header, which clang cannot read. Nothing is
# compiled. No source includes moc or uic output (moc's goes in through mocs_compilation.cpp,
# which is generated and skipped), so the *_autogen targets are not needed either; building
# them would build the libraries they link first (4.5 minutes on two cores). Should a source
# ever include a generated file, clang-tidy fails on it with "file not found".
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_UNITY_BUILD=OFF \
  -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DSLUICE_BUILD_TESTS=OFF >/dev/null

# run-clang-tidy echoes each clang-tidy command line and clang counts the warnings it
# suppressed in Qt's and the other libraries' headers; both are noise here.
status=0
run-clang-tidy -p "$build" -j "$(nproc)" -quiet "^$PWD/$scope" \
  2> >(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' >&2) \
  | { grep -v -E 'clang-tidy(-[0-9]+)? (--use-color )?-p=' || true; } || status=$?
end=$(date +%s)
files=$(grep -c -E '"file": "'"$PWD/$scope" "$build/compile_commands.json")
if ((status != 0)); then
  echo "tidy: findings (above) in $files files, $((end - start)) s" >&2
  exit 1
fi
echo "tidy: $files files clean, $((end - start)) s"
