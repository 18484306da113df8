#!/usr/bin/env bash
# The grader's sandbox (see autograder/sandbox.py): unprivileged users that run student code,
# and a Python they can reach (Debian's python3, with Ray) in /opt/ds-course-sandbox.
# Needs root. Safe to run repeatedly. Called by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROOT="${DS_SANDBOX_ROOT:-/opt/ds-course-sandbox}"
PYTHON="${SANDBOX_PYTHON:-/usr/bin/python3}"

if [[ $(id -u) -ne 0 ]]; then
    echo "==> not root: no grading sandbox (student code would run as you; fine for students)"
    exit 0
fi
if [[ ! -x "$PYTHON" ]]; then
    echo "==> installing Debian's python3 for the grading sandbox"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends python3 python3-venv >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y --no-install-recommends python3 python3-venv >/dev/null; }
fi

for i in 0 1 2 3; do
    user="ds-sandbox-$i"
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    fi
done

mkdir -p "$ROOT/locks"
chmod 755 "$ROOT"
# Two set-ups at once (two clones on one machine) would build the same venv over each other.
exec 9>"$ROOT/.setup.lock"
flock 9
chmod 700 "$ROOT/locks"
# The sandbox runs the packages the grader releases into it; it needs only their dependencies.
wanted="$(grep -iE '^(ray|pyyaml|click)==' constraints.txt | sort | tr '\n' ' ')"
stamp="$ROOT/venv/.installed-$(echo "$wanted $("$PYTHON" --version 2>&1)" | sha256sum | cut -c1-16)"
if [[ -e "$stamp" ]]; then
    echo "==> grading sandbox is up to date ($ROOT)"
    exit 0
fi
echo "==> grading sandbox: $wanted in $ROOT/venv (Debian's $("$PYTHON" --version 2>&1))"
rm -rf "$ROOT/venv"
"$PYTHON" -m venv "$ROOT/venv"
# shellcheck disable=SC2086
"$ROOT/venv/bin/python" -m pip install --quiet --progress-bar off $wanted
chmod -R go+rX "$ROOT/venv"
touch "$stamp"
