#!/usr/bin/env bash
# The whole suite, as CI runs it: install, configure the asan preset (address + undefined
# sanitizers, warnings as errors), build everything, run every CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
start=$(date +%s)
cmake --preset asan
cmake --build --preset asan
built=$(date +%s)
# The headless build (issue 16): sluice without the console, once.
bash scripts/check-headless.sh
headless=$(date +%s)
status=0
ctest --preset asan || status=$?
end=$(date +%s)
echo "build: $((built - start)) s, headless build: $((headless - built)) s, tests: $((end - headless)) s"
exit $status
