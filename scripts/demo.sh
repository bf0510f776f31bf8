#!/usr/bin/env bash
# One command from a fresh clone to a camera in the Home app: installs what is missing, builds the
# plugin, then runs a synthetic RTSP camera, a local MQTT broker and Homebridge with this plugin.
# Pass --loopback (or set CCTV_LOOPBACK=1) to keep everything on 127.0.0.1 (no LAN advertising).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
PATH="$(bash scripts/ensure-node.sh):$PATH"
export PATH
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
exec node --import tsx scripts/demo.ts "$@"
