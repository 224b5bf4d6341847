#!/usr/bin/env bash
# Runs berth in single-node mode on this machine, as root: installs and starts Docker, PostgreSQL and
# Redis where missing, builds berth and starts it. GitHub App credentials and the rest of the
# configuration come from the environment (see README), or from ./github-app.env written by /setup.
set -euo pipefail
cd "$(dirname "$0")/.."

urls=$(bash scripts/deps.sh)   # fails the script (set -e) when a dependency cannot be started
while IFS='=' read -r k v; do
  [ -z "${!k:-}" ] && export "$k=$v"
done <<<"$urls"
if [ -f github-app.env ] && [ -z "${APP_ID:-}" ]; then
  set -a; . ./github-app.env; set +a
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
exec npm start
