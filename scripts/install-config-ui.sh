#!/usr/bin/env bash
# Installs a real homebridge-config-ui-x (and the playwright-core driver) into .cache/config-ui for
# the UI end-to-end test. --ignore-scripts: node-pty ships prebuilds for Node 20-26, and the only
# other install script in the tree is a telemetry postinstall. Idempotent; prints the install dir.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PATH="$(bash "$root/scripts/ensure-node.sh"):$PATH"
# CCTV_CONFIG_UI_VERSION picks another 5.x; 5.28.0 needs @homebridge/hap-client 4.0.3 on this
# registry (it pins 5.2.0, which the registry lacks), hence the override below.
UI_VERSION="${CCTV_CONFIG_UI_VERSION:-5.10.0}"
dir="$root/.cache/config-ui"
[ "$UI_VERSION" = 5.10.0 ] || dir="$root/.cache/config-ui-$UI_VERSION"
if [ -f "$dir/node_modules/homebridge-config-ui-x/package.json" ] &&
  node -e "process.exit(require('$dir/node_modules/homebridge-config-ui-x/package.json').version==='$UI_VERSION'?0:1)"; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir"
overrides='{}'
[ "$UI_VERSION" = 5.10.0 ] || overrides='{ "@homebridge/hap-client": "4.0.3" }'
cat > "$dir/package.json" <<JSON
{ "name": "cctv-config-ui-e2e", "private": true, "dependencies": { "homebridge-config-ui-x": "$UI_VERSION" }, "overrides": $overrides }
JSON
npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >&2
echo "$dir"
