#!/usr/bin/env bash
# Installs (where missing) and starts what berth needs on a bare Debian 12 machine, as root:
# Docker engine, PostgreSQL, Redis and git. Idempotent: safe to run again on a machine that has them.
# Usage: scripts/deps.sh            (prints the DATABASE_URL / REDIS_URL it set up)
#        scripts/deps.sh --test     (also what the test suite needs: busybox-static and caddy for the stand-in images,
#                                    docker-registry and socat for image transfer to a simulated droid,
#                                    chromium for the dashboard's browser tests)
# Where systemd runs, PostgreSQL, Redis and dockerd are its services (supervised, started at boot);
# elsewhere (containers, CI sandboxes) they are started directly.
set -euo pipefail

log() { printf '[deps] %s\n' "$*" >&2; }
STATE=/var/lib/berth
mkdir -p "$STATE" && chmod 700 "$STATE"
systemd=false
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemd=true; fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/bin/docker-init ] || need+=(tini)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v git >/dev/null 2>&1 || need+=(git)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ "${1:-}" = --test ]; then
  # The stand-in images need a static busybox with httpd (captured in variables: pipefail and grep -q disagree).
  bb_ldd=$(ldd /bin/busybox 2>&1 || true); bb_apps=$(/bin/busybox --list 2>/dev/null || true)
  [[ $bb_ldd == *"not a dynamic"* && $'\n'$bb_apps$'\n' == *$'\nhttpd\n'* ]] || need+=(busybox-static)
  command -v caddy >/dev/null 2>&1 || need+=(caddy)
  command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
  command -v socat >/dev/null 2>&1 || need+=(socat)
  # The simulated droid lives in a network namespace (ip netns, nsenter, unshare).
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
  # Custom domains are checked against a DNS server the tests run on loopback (the binary only, no service).
  command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
  # The dashboard's browser tests drive Debian's chromium through playwright-core (no downloaded browsers).
  [ -x /usr/bin/chromium ] || need+=(chromium)
fi
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
# Likewise docker-registry on :5000; the tests start their own on a free loopback port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# Docker engine
if ! docker info >/dev/null 2>&1 && $systemd; then
  systemctl enable --now docker >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
fi
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

# PostgreSQL: the Debian cluster, with a berth role that owns its database and may create databases
# (the test suite makes one per file) but is no superuser, with a password generated once.
pgver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
  pg_createcluster "$pgver" main >/dev/null
fi
cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
if ! pg_lsclusters -h | head -1 | grep -q online; then
  log "starting postgresql $cluster"
  if $systemd; then systemctl enable --now "postgresql@${cluster/ /-}" >/dev/null 2>&1 || pg_ctlcluster $cluster start >&2
  else pg_ctlcluster $cluster start >&2; fi
fi
pgport=$(pg_lsclusters -h | head -1 | awk '{print $3}')
[ -s "$STATE/pg-password" ] || (umask 077; openssl rand -hex 24 >"$STATE/pg-password")
pgpass=$(cat "$STATE/pg-password")
if su postgres -c "psql -p $pgport -tAc \"select 1 from pg_roles where rolname='berth'\"" | grep -q 1; then
  su postgres -c "psql -p $pgport -qc \"alter role berth login nosuperuser createdb password '$pgpass'\""
else
  su postgres -c "psql -p $pgport -qc \"create role berth login nosuperuser createdb password '$pgpass'\""
fi
su postgres -c "psql -p $pgport -tAc \"select 1 from pg_database where datname='berth'\"" | grep -q 1 ||
  su postgres -c "createdb -p $pgport -O berth berth"

# Redis, as BullMQ needs it: every write kept on disk (AOF) and no key ever evicted, so a restart
# loses no queued build.
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  log "starting redis"
  mkdir -p "$STATE/redis"
  if $systemd && systemctl cat redis-server >/dev/null 2>&1; then
    conf=/etc/redis/redis.conf
    grep -q '^appendonly yes' "$conf" || printf '\n# berth: BullMQ keeps every job\nappendonly yes\nmaxmemory-policy noeviction\n' >>"$conf"
    systemctl enable --now redis-server >/dev/null 2>&1
  else
    redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --dir "$STATE/redis" --appendonly yes \
      --maxmemory-policy noeviction --logfile /var/log/berth-redis.log
  fi
  for _ in $(seq 1 40); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi

echo "DATABASE_URL=postgres://berth:$pgpass@127.0.0.1:$pgport/berth"
echo "REDIS_URL=redis://127.0.0.1:6379"
