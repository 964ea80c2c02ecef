#!/usr/bin/env bash
# The build-speed conventions that nothing else catches: breaking one still builds and passes
# every test, only more slowly (issue 16 item 6; DEVELOPERS.md, "Conventions that are easy to
# miss"). Run by CTest as the `conventions` test.
#  1. A header of engine/, app/ or ui/ that declares a Q_OBJECT has a .cpp of the same name that
#     includes "moc_<name>.cpp", so moc's output compiles in that file's unity batch, with the
#     precompiled header, and not in a mocs_compilation.cpp without it.
#  2. JSON text is parsed and written in engine/core/jsontext.cpp only (parseJson, jsonText,
#     jsonBytes): each other translation unit that calls json::parse or dump() compiles its
#     own copy of nlohmann's parser or serialiser at -O2.
set -euo pipefail
cd "$(dirname "$0")/.."
problems=()
mapfile -t headers < <(grep -lE '^[[:space:]]*Q_OBJECT' engine/*/*.h app/*.h ui/*.h)
for h in "${headers[@]}"; do
  cpp=${h%.h}.cpp name=$(basename "${h%.h}")
  if ! grep -qF "#include \"moc_$name.cpp\"" "$cpp" 2>/dev/null; then
    problems+=("$h declares a Q_OBJECT, but $cpp does not end with #include \"moc_$name.cpp\" // NOLINT(bugprone-suspicious-include)")
  fi
done
while IFS= read -r hit; do
  problems+=("$hit: parse or dump JSON text with core/jsontext.h (parseJson, jsonText, jsonBytes)")
done < <(grep -nE 'json::parse\(|\.dump\(' engine/*/*.cpp engine/*/*.h app/*.cpp app/*.h \
           ui/*.cpp ui/*.h | grep -v '^engine/core/jsontext\.cpp:' || true)
if ((${#problems[@]})); then
  printf 'conventions: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "conventions: ${#headers[@]} Q_OBJECT headers have their moc include; JSON text goes through core/jsontext"
