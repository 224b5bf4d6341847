#!/usr/bin/env bash
# Runs berth in single-node mode on this machine, as root: installs and starts Docker, PostgreSQL and
# Redis where missing (scripts/deps.sh: Redis with AOF and noeviction, a non-superuser Postgres role
# with a generated password), builds berth and starts it. Configuration comes from the environment
# (see README) or from /etc/berth/berth.env; the App that /setup registers is kept in
# BERTH_DATA_DIR (default /var/lib/berth) and loaded on the next start.
# Where systemd runs, berth becomes the supervised service berth.service (restarted if it dies,
# started at boot); elsewhere it runs in the foreground. node runs berth directly: no npm wrapper.
# Open only ports 80 and 443 to the world: the ingress proxy serves the apps and, when BERTH_PUBLIC_URL
# names a host, berth itself (webhooks, API, dashboard) with the same HTTPS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

urls=$(bash scripts/deps.sh)   # fails the script (set -e) when a dependency cannot be started
mkdir -p /etc/berth && chmod 700 /etc/berth
envfile=/etc/berth/berth.env
touch "$envfile" && chmod 600 "$envfile"
# What deps.sh set up goes into the environment file unless the operator set it there already.
while IFS='=' read -r k v; do
  grep -q "^$k=" "$envfile" || printf '%s=%s\n' "$k" "$v" >>"$envfile"
done <<<"$urls"
grep -q '^BERTH_DATA_DIR=' "$envfile" || echo "BERTH_DATA_DIR=/var/lib/berth" >>"$envfile"
grep -q '^NODE_ENV=' "$envfile" || echo "NODE_ENV=production" >>"$envfile"
if ! grep -q '^BERTH_SECRET_KEY=' "$envfile"; then
  echo "BERTH_SECRET_KEY=$(openssl rand -hex 32)" >>"$envfile"   # keep this file: secrets are sealed with it
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  cat >/etc/systemd/system/berth.service <<UNIT
[Unit]
Description=berth: GitOps build-and-release server
After=network-online.target docker.service postgresql.service redis-server.service
Wants=network-online.target docker.service postgresql.service redis-server.service

[Service]
WorkingDirectory=$root
EnvironmentFile=$envfile
ExecStart=$(command -v node) --max-semi-space-size=2 dist/server/main.js
Restart=always
RestartSec=2
# berth stops within seconds; reports still unsent are retried by the next start.
TimeoutStopSec=20

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable berth.service >/dev/null
  systemctl restart berth.service
  echo "berth runs as berth.service: journalctl -u berth -f" >&2
  exit 0
fi
set -a; . "$envfile"; set +a
# A 2 MB young generation: berth idles ~20 MB smaller and ~40 MB smaller after a day of deploys
# (bench/fleet-footprint.bench.test.ts), for a few more, cheap scavenges.
exec node --max-semi-space-size=2 dist/server/main.js
