#!/usr/bin/env bash
# Installs what the tests need (Debian packages of the real clients, a venv
# with pushimapd and its test extra) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES="isync curl offlineimap3 fetchmail getmail6 mutt openssl python3-venv chromium"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq $missing >/dev/null
fi
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
log=$(mktemp)
if ! "$VENV/bin/python" -m pip install -q '.[test]' >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; exit 1
fi
rm -f "$log"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
