#!/usr/bin/env bash
# Builds local stand-ins for public images, for machines that cannot pull from a registry (tests, CI,
# air-gapped droid servers). Each is a `docker import` of a tiny root filesystem made from this
# machine's Debian binaries:
#   berth-standin/busybox:latest  busybox-static (sh, httpd, nc): base image of the test apps
#   berth-standin/caddy:2         /usr/bin/caddy + its libraries, laid out like caddy:2-alpine
#   berth-standin/redis:7         redis-server and redis-cli + libraries, behaving like redis:7
# Idempotent: an image that exists is kept unless FORCE=1.
set -euo pipefail
log() { printf '[standins] %s\n' "$*" >&2; }

have() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# Copies a dynamically linked binary and the libraries ldd lists into a root filesystem.
copy_with_libs() {
  local bin=$1 root=$2
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

busybox_root() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,www,root}
  cp /bin/busybox "$root/bin/busybox"
  for app in $(/bin/busybox --list); do
    [ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$root/etc/passwd"
  chmod 1777 "$root/tmp"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! have berth-standin/busybox:latest; then
  log "building berth-standin/busybox:latest"
  busybox_root "$tmp/busybox"
  tar -C "$tmp/busybox" -c . | docker import \
    -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' - berth-standin/busybox:latest >/dev/null
fi

if ! have berth-standin/caddy:2; then
  log "building berth-standin/caddy:2 from $(command -v caddy)"
  busybox_root "$tmp/caddy"
  copy_with_libs "$(command -v caddy)" "$tmp/caddy"
  mkdir -p "$tmp/caddy/etc/caddy" "$tmp/caddy/data" "$tmp/caddy/config" "$tmp/caddy/srv"
  printf ':80 {\n\trespond "berth ingress" 404\n}\n' >"$tmp/caddy/etc/caddy/Caddyfile"
  tar -C "$tmp/caddy" -c . | docker import \
    -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV XDG_CONFIG_HOME=/config' -c 'ENV XDG_DATA_HOME=/data' \
    -c 'EXPOSE 80 443 2019' -c 'WORKDIR /srv' \
    -c 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]' \
    - berth-standin/caddy:2 >/dev/null
fi
if ! have berth-standin/redis:7; then
  log "building berth-standin/redis:7 from $(command -v redis-server)"
  busybox_root "$tmp/redis"
  copy_with_libs "$(command -v redis-server)" "$tmp/redis"
  copy_with_libs "$(command -v redis-cli)" "$tmp/redis"
  mkdir -p "$tmp/redis/data"
  # The official image turns protected mode off so that other containers on the network can connect.
  tar -C "$tmp/redis" -c . | docker import \
    -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'WORKDIR /data' -c 'EXPOSE 6379' \
    -c 'CMD ["redis-server", "--protected-mode", "no"]' \
    - berth-standin/redis:7 >/dev/null
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^berth-standin/' >&2
