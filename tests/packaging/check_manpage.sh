#!/usr/bin/env bash
# Keeps the hand-written man page (packaging/sluice.1) and the user guide's settings table
# from drifting away from the binary: every flag that `sluice --help` and each command's
# `--help` print must be in the man page; every flag of every command's table (their --help
# comes from engine/config/flagtable.cpp) must have a man entry that names its environment
# variable and states its default; and every serve/worker setting must appear in the guide
# with its variable and default, as `sluice serve --help` states them.
#
# Usage: check_manpage.sh SLUICE MAN_PAGE [GUIDE.md]
set -euo pipefail

sluice=${1:?sluice binary}
man_page=${2:?man page source}
guide=${3:-}

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The man page as plain text: roff's \- is a dash, font escapes go.
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(lq/"/g; s/\\(rq/"/g' "$man_page")

help_of() {
    local out
    if ! out=$(QT_QPA_PLATFORM=offscreen "$sluice" "$@" --help 2>&1); then
        fail "sluice $* --help failed: $out"
    fi
    printf '%s\n' "$out"
}

# Whole-word presence: --rate must not be satisfied by --burst-rate.
has_flag() { grep -Eq -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" <<<"$1"; }

top=$(help_of)
commands=$(awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' <<<"$top")
[[ -n $commands ]] || fail "no commands found in sluice --help"
helps=("$top")
names=("sluice")
for c in $commands; do
    helps+=("$(help_of "$c")")
    names+=("sluice $c")
    has_flag "$man_text" "$c" || fail "command $c is not in the man page"
done
for form in show export compare delete; do
    helps+=("$(help_of runs "$form")")
    names+=("sluice runs $form")
done
for form in list discard; do
    helps+=("$(help_of dead "$form")")
    names+=("sluice dead $form")
done

checked=0
for i in "${!helps[@]}"; do
    while IFS= read -r flag; do
        [[ -n $flag ]] || continue
        checked=$((checked + 1))
        has_flag "$man_text" "$flag" || fail "${names[$i]} --help prints $flag; the man page lacks it"
    done < <(grep -Eo -- '(^|[ [(`,])--?[a-z][a-z0-9-]*' <<<"${helps[$i]}" | sed 's/^[ [(`,]//' | sort -u)
done

# The man page's option entries, one a line: "TAG<tab>BODY" (.TP, its tag line, the text up to
# the next .TP, .PP or section).
entries=$(awk '
    function flush() { if (tag != "") print tag "\t" body; tag = ""; body = ""; want = 0 }
    /^\.TP/ { flush(); want = 1; next }
    /^\.(PP|SH|SS)/ { flush(); next }
    want == 1 { tag = $0; want = 2; next }
    want == 2 { body = body " " $0 }
    END { flush() }' <<<"$man_text")
# Every entry whose tag names the flag (or variable) $1, whole-word.
entries_of() {
    awk -F '\t' -v f="$1" '{
        t = $1; gsub(/[^A-Za-z0-9_-]/, " ", t); n = split(t, w, " ")
        for (i = 1; i <= n; i++) if (w[i] == f) { print; break }
    }' <<<"$entries"
}

# Every table's help line, "  --flag V   help text (default X) [ENV]": the flag has a man entry
# that names its variable and states its default value.
defaults=0
for i in "${!helps[@]}"; do
    while IFS= read -r line; do
        flag=$(grep -Eo -- '^  --[a-z0-9-]+' <<<"$line" | sed 's/^ *//' || true)
        [[ -n $flag ]] || continue
        found=$(entries_of "$flag")
        if [[ -z $found ]]; then
            fail "${names[$i]}: the man page has no entry for $flag"
            continue
        fi
        env=$(grep -Eo '\[[A-Z_]+\]$' <<<"$line" | tr -d '[]' || true)
        [[ -z $env || $found == *"$env"* ]] || fail "${names[$i]}: the man entry of $flag lacks $env"
        default=$(grep -Eo '\(default[^)]*\)' <<<"$line" | tail -n 1 || true)
        # "(default 60s)" -> 60s, "(default: a private redis-server)" -> a private redis-server
        value=$(sed -E "s/^\(default:? //; s/\)\$//" <<<"$default")
        [[ -n $default && $value != *"not shown"* ]] || continue
        defaults=$((defaults + 1))
        [[ $found == *"$value"* ]] || fail "${names[$i]}: the man entry of $flag lacks its default '$value'"
    done <<<"${helps[$i]}"
done
((defaults >= 40)) || fail "only $defaults defaults checked"

# serve's table: "  --flag V   help text (default X) [ENV]"
serve=$(help_of serve)
settings=0
while IFS= read -r line; do
    flag=$(grep -Eo -- '^  --[a-z0-9-]+' <<<"$line" | sed 's/^ *//' || true)
    [[ -n $flag ]] || continue
    settings=$((settings + 1))
    env=$(grep -Eo '\[[A-Z_]+\]$' <<<"$line" | tr -d '[]' || true)
    default=$(grep -Eo '\(default[^)]*\)' <<<"$line" || true)
    if [[ -n $env ]]; then
        has_flag "$man_text" "$env" || fail "the man page lacks $env (for $flag)"
    fi
    if [[ -n $default ]]; then
        grep -qF -- "$default" <<<"$man_text" || fail "the man page lacks '$default' (for $flag)"
    fi
    if [[ -n $guide ]]; then
        # The guide's table row for this flag names its variable and its default value.
        row=$(grep -F -- "\`$flag\`" "$guide" | grep '^|' | head -n 1 || true)
        if [[ -z $row ]]; then
            fail "$(basename "$guide") has no table row for \`$flag\`"
            continue
        fi
        [[ -z $env || $row == *"$env"* ]] || fail "$(basename "$guide"): the row of $flag lacks $env"
        # "(default 60s)" -> 60s, "(default 'default')" -> default, "(default)" -> default
        value=$(sed -E "s/^\(default\)\$/default/; s/^\(default:? //; s/\)\$//; s/^'(.*)'\$/\\1/" <<<"$default")
        # A whole cell, with or without backticks, so "1" is not found in "1..64".
        if [[ -n $default && $row != *"| \`$value\` |"* && $row != *"| $value |"* ]]; then
            fail "$(basename "$guide"): the row of $flag has no cell with its default '$value'"
        fi
    fi
done <<<"$serve"
((settings >= 20)) || fail "only $settings settings parsed from sluice serve --help"
for secret in INSTANTLY_API_KEY CLOSE_API_KEY CLOSE_WEBHOOK_SECRET; do
    has_flag "$man_text" "$secret" || fail "the man page lacks $secret"
    [[ -z $guide ]] || grep -q "$secret" "$guide" || fail "$(basename "$guide") lacks $secret"
done

if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "man page covers $checked flags of $((${#helps[@]})) help texts, $defaults defaults; $settings serve settings checked${guide:+ (and in $(basename "$guide"))}"
