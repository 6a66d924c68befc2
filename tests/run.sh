#!/usr/bin/env bash
# Installs what the tests need (Debian packages of the real clients, a venv
# with pushimapd and its test extra) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the web console is tested in a real browser (playwright drives it)
# dovecot-imapd: the takeover test makes a Maildir with Dovecot itself (run privately
# on 127.0.0.1 by the test; the package's own service is not started, see below)
# postfix: a private instance (own config, queue and port) delivers into the Maildirs under test;
# the package is installed unconfigured ("No configuration") and its own service is not started
# thunderbird: runs headless (--headless, no X server needed) in tests/test_client_thunderbird.py
APT_PACKAGES="isync curl offlineimap3 fetchmail getmail6 mutt openssl python3-venv dovecot-imapd chromium postfix thunderbird"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # packages must not start system services (Dovecot would listen on every interface)
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    $SUDO apt-get update -qq
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    $SUDO apt-get install -y -qq $missing >/dev/null
    [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
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
