#!/usr/bin/env bash
# Lint, type-check and test. With no arguments pytest runs every test but the ones marked slow
# (a benchmark's own run, the whole corpus on Ray): that is what CI runs. Arguments go to
# pytest instead, e.g.
#   bash scripts/test.sh -m slow          # only the slow ones
#   bash scripts/test.sh -m "" -x         # every test
# Runs all three steps and exits non-zero if any of them failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export RAY_IGNORE_UNHANDLED_ERRORS=1
bin=.venv/bin
failed=()

# Only lint directories that exist (git does not keep empty ones).
lint_dirs=()
for d in labs autograder tests benchmarks course; do [[ -d $d ]] && lint_dirs+=("$d"); done

echo "==> ruff check ${lint_dirs[*]}"
"$bin/ruff" check "${lint_dirs[@]}" || failed+=(ruff)

echo "==> mypy"
"$bin/mypy" || failed+=(mypy)

args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(-m "not slow")
echo "==> pytest ${args[*]}"
rc=0
"$bin/python" -m pytest --durations=40 "${args[@]}" || rc=$?  # the slowest tests: where CI time goes
if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests: treating as failure" >&2
fi
[[ $rc -eq 0 ]] || failed+=("pytest(exit $rc)")

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "==> all checks passed"
