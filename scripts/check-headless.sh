#!/usr/bin/env bash
# Builds `sluice` without the console (-DSLUICE_BUILD_UI=OFF, the `headless` preset) and checks
# that it is whole: it runs, it links neither Qt Widgets nor Qt Charts, and `sluice gui` says
# this build has no console. CI runs it once (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset headless >/dev/null
cmake --build --preset headless
bin=build/headless/app/sluice
"$bin" --version
if ldd "$bin" | grep -E 'libQt6(Widgets|Charts|Gui)'; then
  echo "check-headless: the headless sluice links a GUI library (above)" >&2
  exit 1
fi
status=0
"$bin" gui >/dev/null 2>/tmp/sluice-headless-gui.$$ || status=$?
if [[ $status -ne 2 ]] || ! grep -q 'no console' /tmp/sluice-headless-gui.$$; then
  echo "check-headless: 'sluice gui' should exit 2 saying there is no console (got $status)" >&2
  cat /tmp/sluice-headless-gui.$$ >&2
  rm -f /tmp/sluice-headless-gui.$$
  exit 1
fi
rm -f /tmp/sluice-headless-gui.$$
"$bin" serve --help >/dev/null
echo "check-headless: ok (no Widgets, Charts or Gui linked)"
