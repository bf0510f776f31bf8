#!/usr/bin/env bash
# Installs a real homebridge-config-ui-x (and the playwright-core driver) into .cache/config-ui for
# the UI end-to-end test. --ignore-scripts: node-pty ships prebuilds for Node 20-26, and the only
# other install script in the tree is a telemetry postinstall. Idempotent; prints the install dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PATH="$(bash "$root/scripts/ensure-node.sh"):$PATH"
dir="$root/.cache/config-ui"
UI_VERSION=5.10.0
if [ -f "$dir/node_modules/homebridge-config-ui-x/package.json" ] &&
  node -e "process.exit(require('$dir/node_modules/homebridge-config-ui-x/package.json').version==='$UI_VERSION'?0:1)"; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
cat > "$dir/package.json" <<JSON
{ "name": "cctv-config-ui-e2e", "private": true, "dependencies": { "homebridge-config-ui-x": "$UI_VERSION" } }
JSON
npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
echo "$dir"
