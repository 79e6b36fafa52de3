#!/usr/bin/env bash
# Install the DTDL parser harness (Microsoft's DTDLParser on Node) into tools/dtdl-parser/node_modules
# from package-lock.json. Idempotent: a stamp holding the lock file's hash skips a second install.
# Exit status 0 when the harness is ready, 1 when Node/npm are missing or the install failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "dtdl-parser: needs Node 20+ and npm" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "dtdl-parser: needs Node 20+, found $(node --version)" >&2
  exit 1
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.kgtwin-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# The package declares engines node 24.x; its WebAssembly build runs on Node 20 as well.
if ! npm ci --no-audit --no-fund --loglevel=error --engine-strict=false >install.log 2>&1; then
  tail -n 20 install.log >&2
  echo "dtdl-parser: npm ci failed (log: $here/install.log)" >&2
  exit 1
fi
rm -f install.log
echo "$want" >"$stamp"
