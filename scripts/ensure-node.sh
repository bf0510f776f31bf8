#!/usr/bin/env bash
# Prints the directory of a Node.js >= 22 binary (Homebridge 2 needs it). Uses the node on PATH when
# it is new enough, else installs the `node@24` package from the npm registry into .cache/node24.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  dirname "$(command -v node)"
  exit 0
fi
dir="$root/.cache/node24"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  echo "Node.js $(node --version 2>/dev/null || echo missing) is older than 22: installing node@24 into .cache/node24" >&2
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error node@24 >&2
fi
"$dir/node_modules/.bin/node" --version >/dev/null
echo "$dir/node_modules/.bin"
