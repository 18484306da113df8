#!/usr/bin/env bash
# Put the browser code the course site serves itself into site/assets/vendor/ (gitignored), so
# that the built site works with no network at all:
#   - @jupyter-widgets/html-manager (embed-amd.js) and require.js: draw the Jupyter widgets a
#     chapter's output holds (nbconvert would otherwise fetch them from unpkg and cdnjs);
#   - KaTeX (ES modules, CSS, fonts): the math in pages and chapters.
# Versions are pinned by package.json + package-lock.json (installed with `npm ci`). Safe to run
# repeatedly: nothing is done while the lock file and the copied files are unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

vendor=site/assets/vendor
stamp="$vendor/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [[ -e "$stamp" ]]; then
    echo "==> $vendor is up to date"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "==> npm is missing: install Node.js and npm (Debian: apt-get install npm), then rerun" >&2
    exit 1
fi

echo "==> npm ci (the site's browser code, pinned by package-lock.json)"
# --ignore-scripts: no package here needs an install script (font-awesome's only prints credits)
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

rm -rf "$vendor"
mkdir -p "$vendor/html-manager" "$vendor/requirejs" "$vendor/katex/contrib"
nm=node_modules
# embed-amd.js loads its icon fonts from beside itself
cp "$nm/@jupyter-widgets/html-manager/dist/embed-amd.js" "$vendor/html-manager/"
cp "$nm"/@jupyter-widgets/html-manager/dist/*.{woff2,woff,ttf,eot,svg} "$vendor/html-manager/"
cp "$nm/requirejs/require.js" "$vendor/requirejs/"
cp "$nm/katex/dist/katex.mjs" "$nm/katex/dist/katex.min.css" "$nm/katex/LICENSE" "$vendor/katex/"
for pkg in @jupyter-widgets/html-manager requirejs katex; do  # name, version and licence of each
    cp "$nm/$pkg/package.json" "$vendor/$(basename "$pkg")/"
done
cp "$nm/katex/dist/contrib/auto-render.mjs" "$vendor/katex/contrib/"
cp -r "$nm/katex/dist/fonts" "$vendor/katex/"
touch "$stamp"
echo "==> copied into $vendor ($(du -sh "$vendor" | cut -f1))"
