#!/usr/bin/env bash
# Typechecks sst.config.ts against SST's real platform types, so a wrong option fails the build.
# `sst install` writes the provider types into .sst/platform (once; ≈ 40 s); no AWS access needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export SST_SKIP_DEPENDENCY_CHECK=true SST_TELEMETRY_DISABLED=1 SST_NO_BUN=1
if [ ! -f .sst/platform/config.d.ts ]; then
  npx sst install --stage dev >/dev/null
fi
npx tsc -p tsconfig.sst.json
