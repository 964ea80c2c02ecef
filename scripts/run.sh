#!/usr/bin/env bash
# The main job, until the console lands: build Sluice, start the sandbox (fake Instantly and
# Close APIs) on 127.0.0.1:18080, walk the Instantly client through it, and keep the sandbox
# serving until Ctrl-C so you can try it with curl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release/app/sluice
port=${SLUICE_SANDBOX_PORT:-18080}

"$bin" sandbox --port "$port" --quiet &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs -o /dev/null -H 'Authorization: Bearer sandbox' "http://127.0.0.1:$port/api/v2/campaigns" && break
  kill -0 $sandbox 2>/dev/null || { echo "run: the sandbox did not start (port $port in use?)" >&2; exit 1; }
  sleep 0.1
done
"$bin" demo --instantly-url "http://127.0.0.1:$port"
cat <<MSG

The sandbox keeps serving on http://127.0.0.1:$port (Ctrl-C stops it). Try:
  curl -H 'Authorization: Bearer sandbox' http://127.0.0.1:$port/api/v2/campaigns
  curl -H 'Authorization: Bearer sandbox' http://127.0.0.1:$port/_sandbox/stats
MSG
trap - EXIT
wait $sandbox
