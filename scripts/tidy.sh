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
# compiled, and moc does not run: building the *_autogen targets builds the libraries they link
# first (4.5 minutes on two cores). Sources that end with `#include "moc_<name>.cpp"`
# (cmake/SluiceBuildSpeed.cmake) get an empty stand-in from a directory searched last, so
# clang-tidy reads our code and not moc's. Any other generated include fails with "file not
# found".
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_UNITY_BUILD=OFF \
  -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DSLUICE_BUILD_TESTS=OFF >/dev/null
stubs=$PWD/$build/moc-stand-ins
rm -rf "$stubs" && mkdir -p "$stubs"
grep -rhoE '^#include "moc_[a-z0-9_]+\.cpp"' engine app ui | cut -d'"' -f2 \
  | while read -r moc; do : >"$stubs/$moc"; done

# run-clang-tidy echoes each clang-tidy command line and clang counts the warnings it
# suppressed in Qt's and the other libraries' headers; both are noise here.
status=0
run-clang-tidy -p "$build" -j "$(nproc)" -quiet -extra-arg="-I$stubs" "^$PWD/$scope" \
  2> >(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' >&2) \
  | { grep -v -E '^clang-tidy(-[0-9]+)? .*-p=' || true; } || status=$?
end=$(date +%s)
files=$(grep -c -E '"file": "'"$PWD/$scope" "$build/compile_commands.json")
if ((status != 0)); then
  echo "tidy: findings (above) in $files files, $((end - start)) s" >&2
  exit 1
fi
echo "tidy: $files files clean, $((end - start)) s"
