#!/usr/bin/env bash
# The whole test suite: build, lint, typecheck, tool check, then unit and integration tests against
# real FFmpeg, a real RTSP camera, mosquitto, Homebridge and a HomeKit controller.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$(bash scripts/ensure-node.sh):$PATH"
export PATH
[ -d node_modules ] || npm ci --no-audit --no-fund
npx tsc -p tsconfig.json
npx eslint --no-error-on-unmatched-pattern src test bench scripts
npx tsc -p tsconfig.test.json --noEmit
node scripts/check-tools.mjs
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  # The rig's self-tests (test/rig: fixture camera, broker, HomeKit client, SRTP) run first: when the
  # rig is broken, that is the failure to read, not the plugin tests it takes down with it.
  mapfile -t files < <(find test/rig -name '*.test.ts' | sort; find test/unit test/integration -name '*.test.ts' | sort)
fi
# One file at a time: integration tests start real servers and the machine has two cores.
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
