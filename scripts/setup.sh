#!/usr/bin/env bash
# Create (or refresh) the project virtualenv at .venv. Safe to run repeatedly:
# the install is skipped while pyproject.toml and constraints.txt are unchanged.
# Override the interpreter with e.g. PYTHON=python3.11 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
    "$PYTHON" -m venv "$VENV"
fi

hash=$(cat pyproject.toml constraints.txt | "$VENV/bin/python" -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
stamp="$VENV/.installed-$hash"

if [[ -e "$stamp" ]]; then
    echo "==> $VENV is up to date"
else
    echo "==> upgrading pip"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    echo "==> installing -e .[dev] pinned by constraints.txt (first run takes a few minutes)"
    # Show what is being fetched, hide the "already satisfied" noise; awk never fails,
    # so pipefail still reports pip's exit status.
    "$VENV/bin/python" -m pip install --progress-bar off -e ".[dev]" -c constraints.txt 2>&1 \
        | awk '!/^Requirement already satisfied/ { print; fflush() }'
    rm -f "$VENV"/.installed-*
    touch "$stamp"
    echo "==> done"
fi

# The pictures' browser test drives Debian's Chromium through Playwright (no browser download).
if [[ -x /usr/bin/chromium ]]; then
    :
elif command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
    echo "==> installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    # Try the package lists as they are first; refresh them only if that fails.
    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; } \
        || echo "==> could not install chromium: the browser tests of labs.pictures will fail"
else
    echo "==> /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get):"
    echo "    the browser tests of labs.pictures will fail; install Debian's 'chromium' package"
fi

# The course site serves its own browser code (widgets, require.js, KaTeX): it needs npm once.
if ! command -v npm >/dev/null && command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
    echo "==> installing Debian's npm for the course site's browser code"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends npm >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y --no-install-recommends npm >/dev/null; } \
        || echo "==> could not install npm: the site cannot be built (its test will fail)"
fi
if command -v npm >/dev/null; then
    bash scripts/site_assets.sh
else
    echo "==> npm is missing: the course site cannot be built; install Node.js and npm, then rerun"
fi

bash scripts/setup_sandbox.sh

echo "Activate with:  source $VENV/bin/activate"
