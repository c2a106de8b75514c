#!/usr/bin/env sh
# Re-vendor the console's pinned front-end files from the npm registry (`npm pack`, no build step), and
# Swagger UI for the admin API's docs page, and axe-core for the accessibility tests. Prints each file's sha256 for static/VENDORED.md.
#   sh hub/console/vendor.sh
set -eu
cd "$(dirname "$0")/../.."
HTMX=2.0.4
AXE=4.10.2
SWAGGER=5.36.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$HTMX" "axe-core@$AXE" "swagger-ui-dist@$SWAGGER" >/dev/null)
tar -xzf "$work/htmx.org-$HTMX.tgz" -C "$work" package/dist/htmx.min.js package/LICENSE
cp "$work/package/dist/htmx.min.js" hub/console/static/htmx.min.js
rm -rf "$work/package"
tar -xzf "$work/axe-core-$AXE.tgz" -C "$work" package/axe.min.js package/LICENSE
cp "$work/package/axe.min.js" tests/browser/vendor/axe.min.js
rm -rf "$work/package"
tar -xzf "$work/swagger-ui-dist-$SWAGGER.tgz" -C "$work" package/swagger-ui-bundle.js package/swagger-ui.css \
  package/swagger-ui-bundle.js.LICENSE.txt package/LICENSE package/NOTICE
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" \
  "$work/package/swagger-ui-bundle.js.LICENSE.txt" hub/admin/static/
cp "$work/package/LICENSE" hub/admin/static/swagger-ui-LICENSE.txt
cp "$work/package/NOTICE" hub/admin/static/swagger-ui-NOTICE.txt
sha256sum hub/console/static/htmx.min.js tests/browser/vendor/axe.min.js hub/admin/static/swagger-ui-bundle.js \
  hub/admin/static/swagger-ui.css
