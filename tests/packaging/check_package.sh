#!/usr/bin/env bash
# Builds the .deb from an already-built tree with CPack, then checks what a user would get:
# the control fields (dependencies, maintainer scripts, conffiles), the files (binary, man
# page, desktop file, metainfo, icons, systemd units, env template and its mode), the desktop
# file and metainfo through their validators, and `sluice --version` run from the unpacked
# package. No network, nothing installed on this machine: the package is unpacked into a
# scratch root with dpkg-deb -x.
#
# Usage: check_package.sh BUILD_DIR VERSION [CPACK]
set -euo pipefail

build=${1:?build directory}
version=${2:?expected version}
cpack=${3:-cpack}
app_id=io.github.sluice_app.Sluice

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
need() { command -v "$1" >/dev/null || { echo "FAIL: $1 is missing (bash scripts/setup.sh installs it)" >&2; exit 1; }; }
need dpkg-deb
need dpkg-shlibdeps
need desktop-file-validate
need appstreamcli

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# CPack's own scratch files go to -B; nothing is written into the build tree but its
# (already up-to-date) preinstall step.
if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    echo "FAIL: cpack did not build the package" >&2
    exit 1
fi
debs=("$tmp"/out/*.deb)
[[ -f ${debs[0]} && ${#debs[@]} -eq 1 ]] || { ls -l "$tmp/out" >&2; echo "FAIL: expected one .deb" >&2; exit 1; }
deb=${debs[0]}
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == sluice ]] || fail "Package is '$(field Package)', not sluice"
[[ $(field Version) == "$version" ]] || fail "Version is '$(field Version)', not $version"
depends=$(field Depends)
echo "Depends: $depends"
echo "Recommends: $(field Recommends)"
for dep in libqt6core6 libqt6network6 libqt6httpserver6 libqt6widgets6 libqt6charts6 libhiredis \
    qt6-qpa-plugins adduser; do
    [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep"
done
[[ $(field Recommends) == *redis-server* ]] || fail "Recommends lacks redis-server"

control=$tmp/control
dpkg-deb -e "$deb" "$control"
for script in postinst prerm postrm; do
    [[ -x $control/$script ]] || fail "maintainer script $script is missing or not executable"
    sh -n "$control/$script" || fail "$script is not valid sh"
done
grep -qx /etc/sluice/sluice.env "$control/conffiles" 2>/dev/null \
    || fail "/etc/sluice/sluice.env is not a conffile"

# Modes and paths as dpkg will install them.
listing=$(dpkg-deb -c "$deb")
mode_of() { awk -v p="./${1#/}" '$6 == p { print $1 }' <<<"$listing"; }
[[ $(mode_of /etc/sluice/sluice.env) == -rw-r----- ]] \
    || fail "/etc/sluice/sluice.env has mode '$(mode_of /etc/sluice/sluice.env)', not -rw-r-----"
[[ $(mode_of /usr/bin/sluice) == -rwxr-xr-x ]] || fail "/usr/bin/sluice is not -rwxr-xr-x"

root=$tmp/root
dpkg-deb -x "$deb" "$root"
for f in \
    usr/bin/sluice \
    usr/share/man/man1/sluice.1.gz \
    "usr/share/applications/$app_id.desktop" \
    "usr/share/metainfo/$app_id.metainfo.xml" \
    "usr/share/icons/hicolor/scalable/apps/$app_id.svg" \
    "usr/share/icons/hicolor/256x256/apps/$app_id.png" \
    "usr/share/icons/hicolor/48x48/apps/$app_id.png" \
    lib/systemd/system/sluice.service \
    lib/systemd/system/sluice-worker.service \
    etc/sluice/sluice.env \
    usr/share/doc/sluice/README.md \
    usr/share/doc/sluice/user-guide.md \
    usr/share/doc/sluice/operations.md \
    usr/share/doc/sluice/changelog.gz \
    usr/share/lintian/overrides/sluice; do
    [[ -s $root/$f ]] || fail "/$f is not in the package"
done

# The binary runs from the unpacked tree and says its version. (Leak checking stays on: the
# version path must exit cleanly under the asan preset too.)
if out=$("$root/usr/bin/sluice" --version 2>&1); then
    [[ $out == "sluice $version" ]] || fail "sluice --version printed '$out', not 'sluice $version'"
else
    fail "sluice --version exited with $?: $out"
fi

changelog_version=$(zcat "$root/usr/share/doc/sluice/changelog.gz" | sed -n '1s/^sluice (\([^)]*\)).*/\1/p')
[[ $changelog_version == "$version" ]] \
    || fail "packaging/debian/changelog starts at '$changelog_version', not $version: add an entry"

zcat "$root/usr/share/man/man1/sluice.1.gz" | grep -q "^\\.TH SLUICE 1 .*\"Sluice $version\"" \
    || fail "the man page's .TH line does not say \"Sluice $version\""
grep -q "<release version=\"$version\"" "$root/usr/share/metainfo/$app_id.metainfo.xml" \
    || fail "the metainfo has no <release version=\"$version\">"
if command -v groff >/dev/null; then
    warnings=$(zcat "$root/usr/share/man/man1/sluice.1.gz" | groff -man -ww -z 2>&1) || true
    [[ -z $warnings ]] || fail "groff warns about the man page: $warnings"
fi

desktop-file-validate "$root/usr/share/applications/$app_id.desktop" || fail "desktop-file-validate"
grep -qx "Icon=$app_id" "$root/usr/share/applications/$app_id.desktop" || fail "the desktop file's Icon is not $app_id"
appstreamcli validate --no-net "$root/usr/share/metainfo/$app_id.metainfo.xml" || fail "appstreamcli validate"

for unit in sluice sluice-worker; do
    u=$root/lib/systemd/system/$unit.service
    for setting in User=sluice ProtectSystem=strict NoNewPrivileges=yes StateDirectory=sluice \
        EnvironmentFile=/etc/sluice/sluice.env; do
        grep -qx "$setting" "$u" || fail "$unit.service lacks $setting"
    done
done
grep -q '^ExecStart=/usr/bin/sluice serve' "$root/lib/systemd/system/sluice.service" || fail "sluice.service does not run sluice serve"
grep -q '^ExecStart=/usr/bin/sluice worker' "$root/lib/systemd/system/sluice-worker.service" || fail "sluice-worker.service does not run sluice worker"
# systemd's own parser, when it is here: unknown keys and bad values. The binary is not
# installed on this machine, so that one complaint is expected.
if command -v systemd-analyze >/dev/null; then
    for unit in sluice sluice-worker; do
        complaints=$(systemd-analyze verify --man=no "$root/lib/systemd/system/$unit.service" 2>&1 \
            | grep -v 'Command /usr/bin/sluice is not executable' || true)
        [[ -z $complaints ]] || fail "systemd-analyze verify $unit.service: $complaints"
    done
fi
# Secrets stay commented out in the template.
if grep -Eq '^(INSTANTLY_API_KEY|CLOSE_API_KEY|CLOSE_WEBHOOK_SECRET)=' "$root/etc/sluice/sluice.env"; then
    fail "the env template sets a secret"
fi

if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "package checks passed"
