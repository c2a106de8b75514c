#!/usr/bin/env sh
# Re-vendor the console's pinned front-end files from the npm registry (`npm pack`, no build step), and
# axe-core for the accessibility tests. Prints each file's sha256 for static/VENDORED.md.
#   sh hub/console/vendor.sh
set -eu
cd "$(dirname "$0")/../.."
HTMX=2.0.4
AXE=4.10.2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$HTMX" "axe-core@$AXE" >/dev/null)
tar -xzf "$work/htmx.org-$HTMX.tgz" -C "$work" package/dist/htmx.min.js package/LICENSE
cp "$work/package/dist/htmx.min.js" hub/console/static/htmx.min.js
rm -rf "$work/package"
tar -xzf "$work/axe-core-$AXE.tgz" -C "$work" package/axe.min.js package/LICENSE
cp "$work/package/axe.min.js" tests/browser/vendor/axe.min.js
sha256sum hub/console/static/htmx.min.js tests/browser/vendor/axe.min.js
