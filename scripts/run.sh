#!/usr/bin/env bash
# The main job: build Sluice and open the operator console in SANDBOX mode (embedded fake
# Instantly and Close with the real limits, a private Redis: nothing leaves the machine).
# Without a display, the headless equivalent: a 200-lead load test against the same
# embedded sandbox, verified in (fake) Instantly and cleaned up, with its verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
bin=build/release/app/sluice

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run: opening the Sluice console (sandbox mode); close the window to stop"
  exec "$bin" "$@"
fi
leads=${SLUICE_LEADS:-200}
echo "run: no display, so the headless equivalent: a $leads-lead load test against the embedded"
echo "     sandbox, verified and cleaned up (sluice loadtest --help for more)"
exec "$bin" loadtest --leads "$leads" --verify --cleanup "$@"
