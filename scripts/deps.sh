#!/usr/bin/env bash
# Installs (where missing) and starts what berth needs on a bare Debian 12 machine, as root:
# Docker engine, PostgreSQL, Redis and git. Idempotent: safe to run again on a machine that has them.
# Usage: scripts/deps.sh            (exports nothing; prints the DATABASE_URL / REDIS_URL it set up)
set -euo pipefail

log() { printf '[deps] %s\n' "$*" >&2; }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/bin/docker-init ] || need+=(tini)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v git >/dev/null 2>&1 || need+=(git)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# The stand-in images need a static busybox with httpd (captured in variables: pipefail and grep -q disagree).
bb_ldd=$(ldd /bin/busybox 2>&1 || true); bb_apps=$(/bin/busybox --list 2>/dev/null || true)
[[ $bb_ldd == *"not a dynamic"* && $'\n'$bb_apps$'\n' == *$'\nhttpd\n'* ]] || need+=(busybox-static)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's caddy package starts a service on :80 where systemd runs; berth runs Caddy in a container.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then
  systemctl disable --now caddy >/dev/null 2>&1 || true
fi

# Docker engine
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  # Every preview gets its own network; Docker's default pools hold only ~30 of them. Unless the
  # operator configured pools, carve 256 /24 networks out of one /16.
  pool=()
  grep -qs default-address-pools /etc/docker/daemon.json || pool=(--default-address-pool base=10.210.0.0/16,size=24)
  nohup dockerd "${pool[@]}" >/var/log/berth-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/berth-dockerd.log; log "dockerd did not start"; exit 1; }
fi

# PostgreSQL: the Debian cluster, with a berth role and database
pgver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  pg_createcluster "$pgver" main >/dev/null
fi
cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
if ! pg_lsclusters -h | head -1 | grep -q online; then
  log "starting postgresql $cluster"
  pg_ctlcluster $cluster start
fi
pgport=$(pg_lsclusters -h | head -1 | awk '{print $3}')
su postgres -c "psql -p $pgport -tAc \"select 1 from pg_roles where rolname='berth'\"" | grep -q 1 ||
  su postgres -c "psql -p $pgport -qc \"create role berth login superuser password 'berth'\""
su postgres -c "psql -p $pgport -tAc \"select 1 from pg_database where datname='berth'\"" | grep -q 1 ||
  su postgres -c "createdb -p $pgport -O berth berth"

# Redis
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  log "starting redis"
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --logfile /var/log/berth-redis.log
  for _ in $(seq 1 40); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi

echo "DATABASE_URL=postgres://berth:berth@127.0.0.1:$pgport/berth"
echo "REDIS_URL=redis://127.0.0.1:6379"
