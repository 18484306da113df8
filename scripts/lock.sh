#!/usr/bin/env bash
# Regenerate constraints.txt: resolve .[dev] from scratch (ignoring the current
# lock) in a throwaway venv and freeze the result. Override the interpreter with $PYTHON.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "==> fresh venv in $tmp"
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
echo "==> resolving .[dev] without constraints (a few minutes)"
# Editable, so that --exclude-editable leaves ds-course itself out of the lock.
"$tmp/venv/bin/python" -m pip install --quiet -e ".[dev]"

{
    echo "# Pinned versions for ds-course (Linux, Python $("$tmp/venv/bin/python" -c \
        'import sys; print("%d.%d" % sys.version_info[:2])')). Used by scripts/setup.sh via -c."
    echo "# Regenerate with: bash scripts/lock.sh"
    "$tmp/venv/bin/python" -m pip freeze --exclude-editable
} > "$tmp/constraints.txt"
mv "$tmp/constraints.txt" constraints.txt
echo "==> wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
