#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs and starts Docker, PostgreSQL
# and Redis (scripts/deps.sh), builds the local stand-in images the tests deploy (scripts/standins.sh),
# installs npm dependencies, builds berth, and runs unit, integration and end-to-end tests.
# Extra arguments go to vitest, e.g. `bash scripts/test.sh test/unit`.
set -uo pipefail
cd "$(dirname "$0")/.."

urls=$(bash scripts/deps.sh --test) || exit 1
# The tests reach the same Postgres and Redis berth would (the role's password is generated per machine).
while IFS='=' read -r k v; do export "TEST_$k=$v"; done <<<"$urls"
bash scripts/standins.sh || exit 1
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || exit 1
fi
npm run --silent typecheck || exit 1
npm run --silent lint:cycles || exit 1

results=$(mktemp)
# npm test builds berth first (pretest), since the end-to-end tests start it with `npm start`.
npm test -- --reporter=default --reporter=json --outputFile="$results" "$@"
status=$?
# A plain summary line that any CI can read, whatever the runner prints.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" 2>/dev/null || echo "0 passed, 1 failed"
rm -f "$results"
exit $status
