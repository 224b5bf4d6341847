#!/usr/bin/env bash
# A simulated remote droid server on this machine, as root: a second dockerd in a network namespace
# of its own, reached from the host over a veth pair, listening on TCP 2376 with --tlsverify. Its
# containers' addresses are blackholed on the host, as they are unreachable on a real remote server
# (this machine's gateway would otherwise answer for any address). test/support/droid.ts drives it.
#
#   droid.sh up SLOT OWNER_PID SERVER_CERTS_DIR   start droid SLOT (0-7); prints its state directory
#   droid.sh stop-engine SLOT                     stop its dockerd only (a dead engine on a live host)
#   droid.sh start-engine SLOT                    start its dockerd again after stop-engine
#   droid.sh down SLOT                            stop and remove everything of droid SLOT (idempotent)
#   droid.sh provision SLOT OWNER_PID SCRIPT       a droid made by provision-droid.sh in full (see provision())
#   droid.sh sweep                                down every droid whose owner process is gone
#
# Per slot N: netns berth-droid-N, veth bdroidN (host, 10.252.N.1/30) / bdroidN-ns (droid,
# 10.252.N.2/30), address pool and blackhole 10.(230+N).0.0/16, state in /tmp/berth-droids/N.
# dockerd runs under `nsenter --net=…`, not `ip netns exec`: the latter remounts /sys and dockerd
# then fails on cgroups.
set -euo pipefail
ROOT=/tmp/berth-droids
log() { printf '[droid] %s\n' "$*" >&2; }

names() {
  local n=$1
  [[ $n =~ ^[0-7]$ ]] || { log "slot must be 0-7, got $n"; exit 2; }
  ns=berth-droid-$n host_if=bdroid$n ns_if=bdroid$n-ns dir=$ROOT/$n
  host_ip=10.252.$n.1 droid_ip=10.252.$n.2 pool=10.$((230 + n)).0.0/16
}

# Kills a process only if it is still the one we started (its command line names our state dir).
kill_ours() {
  local pid=$1 sig=$2
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$dir" && kill "-$sig" "$pid" 2>/dev/null || true
}

# Stops the droid's dockerd (and with it its containers), leaving the network in place: an engine that died on a live host.
# It gets 20 s, as systemd would give it more than its own 15 s for the containers: KILLed after 10 s it
# died in the middle of its shutdown whenever a container took its full 10 s to stop.
stop_engine() {
  names "$1"
  if [ -s "$dir/dockerd.pid" ]; then
    local pid
    pid=$(cat "$dir/dockerd.pid")
    kill_ours "$pid" TERM
    for _ in $(seq 1 80); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
    kill_ours "$pid" KILL
    for _ in $(seq 1 20); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
  fi
  # A dockerd killed before it cleaned up leaves its pid file, and the next one refuses to start.
  rm -f "$dir/dockerd.pid"
}

down() {
  stop_engine "$1"
  # Whatever still runs in the namespace (containerd, shims, containers) is the droid's and only its.
  if [ -e "/var/run/netns/$ns" ]; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    sleep 0.2
  fi
  # Mounts dockerd left (overlays, netns bind mounts), deepest first.
  if [ -d "$dir" ]; then
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  ip link del "$host_if" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip route del blackhole "$pool" 2>/dev/null || true
  rm -rf "$dir"
  # Container cgroups under the droid's parent (cgroup v1: one tree per controller).
  for cg in /sys/fs/cgroup/*/berth-droid-"$1" /sys/fs/cgroup/berth-droid-"$1"; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

# The droid's network: namespace, veth pair to the host, and the blackhole for its address pool.
net_up() {
  local owner=$1
  mkdir -p "$dir"
  chmod 700 "$dir"
  echo "$owner" >"$dir/owner"
  ip netns add "$ns"
  ip link add "$host_if" type veth peer name "$ns_if"
  ip link set "$ns_if" netns "$ns"
  ip addr add "$host_ip/30" dev "$host_if"
  ip link set "$host_if" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$droid_ip/30" dev "$ns_if"
  ip -n "$ns" link set "$ns_if" up
  ip -n "$ns" route add default via "$host_ip"
  ip route add blackhole "$pool"
}

up() {
  names "$1"
  local owner=$2 certs=$3
  net_up "$owner"
  mkdir -p "$dir"/{data,exec}
  echo '{}' >"$dir/daemon.json"
  engine_up "$1" "$certs"
}

# Starts the droid's dockerd in its namespace (again, after stop-engine: its containers come back by their restart policies).
engine_up() {
  local certs=$2
  echo "$certs" >"$dir/certs-dir"
  nsenter --net="/var/run/netns/$ns" dockerd \
    --config-file "$dir/daemon.json" \
    -H "tcp://$droid_ip:2376" -H "unix://$dir/docker.sock" \
    --tlsverify --tlscacert "$certs/ca.pem" --tlscert "$certs/cert.pem" --tlskey "$certs/key.pem" \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
    --default-address-pool "base=$pool,size=24" --cgroup-parent "/berth-droid-$1" \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1 && { echo "$dir"; return 0; }
    sleep 0.25
  done
  log "dockerd did not start; its log:"
  tail -30 "$dir/dockerd.log" >&2
  down "$1"
  exit 1
}

# Runs scripts/provision-droid.sh in full (no --certs-only) as on a fresh host, inside the droid's
# network namespace and a private mount namespace where /etc/docker, /var/lib/docker, /var/log and
# /run are the droid's own directories: it configures and starts "the machine's" dockerd without
# touching this machine's. Its output goes to $dir/provision.out and .log.
provision() {
  names "$1"
  local owner=$2 script=$3
  [ -d /etc/docker ] && [ -d /var/lib/docker ] || { log "provision needs /etc/docker and /var/lib/docker to mount over"; exit 1; }
  net_up "$owner"
  mkdir -p "$dir"/{etc-docker,var-lib-docker,var-log}
  nsenter --net="/var/run/netns/$ns" unshare --mount --propagation private bash -c '
    set -euo pipefail
    d=$1; shift
    mount --bind "$d/etc-docker" /etc/docker
    mount --bind "$d/var-lib-docker" /var/lib/docker
    mount --bind "$d/var-log" /var/log
    mount -t tmpfs tmpfs /run
    mountpoint -q /etc/docker && mountpoint -q /var/lib/docker && mountpoint -q /run
    exec bash "$@"
  ' _ "$dir" "$script" --hostname "$droid_ip" --name "droid-$1" --pool "$pool" --dir "$dir/tls" \
    >"$dir/provision.out" 2>"$dir/provision.log" </dev/null
}

sweep() {
  [ -d "$ROOT" ] || return 0
  for d in "$ROOT"/*; do
    [ -d "$d" ] || continue
    local n owner
    n=$(basename "$d") owner=$(cat "$d/owner" 2>/dev/null || echo "")
    # A slot claimed this instant has no owner written yet.
    [ -z "$owner" ] && [ $(($(date +%s) - $(stat -c %Y "$d"))) -lt 60 ] && continue
    if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
      log "removing droid $n left by a run that is gone"
      down "$n"
    fi
  done
}

case "${1:-}" in
  up) up "${2:?slot}" "${3:?owner pid}" "${4:?server certs dir}" ;;
  down) down "${2:?slot}" ;;
  stop-engine) stop_engine "${2:?slot}" ;;
  start-engine) names "${2:?slot}"; engine_up "$2" "$(cat "$dir/certs-dir")" >/dev/null ;;
  provision) provision "${2:?slot}" "${3:?owner pid}" "${4:?provision-droid.sh}" ;;
  sweep) sweep ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
