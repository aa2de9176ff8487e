#!/usr/bin/env bash
# Installs what Tests/browser/ needs: Debian's chromium, chromium-driver (headless) and a Korean font, and selenium
# from PyPI; the WebSocket peers of Tests/NetCoreWebSocketTests: Debian's node-ws and PyPI's websockets; and tshark
# for the TLS keylog test.
# Idempotent and quiet; run as root. It never upgrades a library the Swift build links against: the apt step is
# simulated first and refused if it would touch OpenSSL (libssl3, openssl) or upgrade any installed package.
set -euo pipefail

SELENIUM_VERSION="4.27.1" # Python 3.11 is fine; 4.52 wanted a certifi newer than the registry had
WEBSOCKETS_VERSION="15.0.1" # python websockets, a peer of the WebSocket interop tests
# fonts-nanum: Korean glyphs, so the screenshots of the course pages show text rather than boxes.
# node-ws: Node's `ws` 8, the reference WebSocket peer (require it with NODE_PATH=/usr/share/nodejs).
# tshark: the TLS keylog test decrypts a live loopback capture with it (skipped, with a reason, when it is absent).
APT_PACKAGES=(chromium chromium-driver fonts-nanum node-ws tshark)

if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: run as root (apt-get install needs it)" >&2
    exit 1
fi

if command -v chromium >/dev/null && command -v chromedriver >/dev/null && dpkg -s fonts-nanum >/dev/null 2>&1 \
    && dpkg -s node-ws >/dev/null 2>&1 && command -v tshark >/dev/null; then
    echo "install-test-deps: ${APT_PACKAGES[*]} already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    simulation="$(apt-get -s install --no-install-recommends "${APT_PACKAGES[@]}")"
    # An upgrade shows as "Inst NAME [OLD-VERSION] (NEW-VERSION ...)"; a fresh install has no [OLD-VERSION].
    if grep -Ei '^Inst (libssl|openssl)' <<<"$simulation" >/dev/null \
        || grep -E '^Inst [^ ]+ \[' <<<"$simulation" >/dev/null; then
        echo "install-test-deps: refusing, installing ${APT_PACKAGES[*]} would upgrade installed packages:" >&2
        grep -E '^Inst [^ ]+ \[|^Inst (libssl|openssl)' <<<"$simulation" >&2 || true
        exit 1
    fi
    # --no-upgrade: never upgrade a named package that is already there (the check above covers dependencies).
    apt-get install -y -qq --no-install-recommends --no-upgrade "${APT_PACKAGES[@]}" >/dev/null
    echo "install-test-deps: installed ${APT_PACKAGES[*]}"
fi

if python3 -c "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" 2>/dev/null; then
    echo "install-test-deps: selenium $SELENIUM_VERSION already installed"
else
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "selenium==$SELENIUM_VERSION"
    echo "install-test-deps: installed selenium $SELENIUM_VERSION"
fi

if python3 -c "import websockets, sys; sys.exit(websockets.__version__ != '$WEBSOCKETS_VERSION')" 2>/dev/null; then
    echo "install-test-deps: websockets $WEBSOCKETS_VERSION already installed"
else
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "websockets==$WEBSOCKETS_VERSION"
    echo "install-test-deps: installed websockets $WEBSOCKETS_VERSION"
fi
