#!/usr/bin/env bash
# Fetch the front-end packages staff and resident pages use, from the npm registry, each checked by
# SHA-256, and unpack what is served into vendor/ (not committed: data, like the sentence encoder):
#   govuk-frontend 6.3.0  the GOV.UK Design System's CSS, JavaScript, fonts and images (the version
#                         govuk-frontend-jinja 4.1 renders macros for)
#   axe-core 4.14.1       the accessibility checker tests inject into pages
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p vendor
fetch() {  # name version sha256 -> vendor/<name>-<version>.tgz checked
  local name=$1 version=$2 sha256=$3 file="vendor/$1-$2.tgz"
  if [ -f "$file" ] && echo "$sha256  $file" | sha256sum -c --status; then
    return 0
  fi
  rm -f "$file"
  (cd vendor && npm pack --silent "$name@$version" >/dev/null)
  if ! echo "$sha256  $file" | sha256sum -c --status; then
    echo "$file does not have the expected SHA-256; removed" >&2
    rm -f "$file"
    exit 1
  fi
}
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to fetch govuk-frontend and axe-core (Node.js 18 or later)" >&2
  exit 1
fi
fetch govuk-frontend 6.3.0 3d91fd1353e32e306a8ae493b44ba9c0277348b5dbc08442a3e63d822e516048
fetch axe-core 4.14.1 e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
if [ ! -f vendor/govuk-frontend/.ok-6.3.0-assets ]; then
  rm -rf vendor/govuk-frontend vendor/tmp && mkdir -p vendor/tmp
  tar xzf vendor/govuk-frontend-6.3.0.tgz -C vendor/tmp
  mkdir -p vendor/govuk-frontend
  # The CSS asks for fonts and images under /assets, so everything is served from that one folder.
  cp -r vendor/tmp/package/dist/govuk/assets vendor/govuk-frontend/
  cp vendor/tmp/package/dist/govuk/govuk-frontend.min.css vendor/tmp/package/dist/govuk/govuk-frontend.min.js \
    vendor/govuk-frontend/assets/
  rm -rf vendor/tmp && touch vendor/govuk-frontend/.ok-6.3.0-assets
fi
if [ ! -f vendor/axe-core/.ok-4.14.1 ]; then
  rm -rf vendor/axe-core vendor/tmp && mkdir -p vendor/tmp vendor/axe-core
  tar xzf vendor/axe-core-4.14.1.tgz -C vendor/tmp
  cp vendor/tmp/package/axe.min.js vendor/axe-core/
  rm -rf vendor/tmp && touch vendor/axe-core/.ok-4.14.1
fi
echo "front-end packages ready in vendor/"
