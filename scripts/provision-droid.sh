#!/usr/bin/env bash
# Turns a fresh Debian 12 host into a berth droid server, as root: installs Docker where missing,
# makes a CA with server and client certificates (or signs with a CA you give it), configures the
# engine for TLS-verified TCP on 2376 with address pools for many previews, and prints the exact
# `berth servers add` command with the client bundle to copy to berth's host.
#
# Usage: provision-droid.sh [--hostname HOST] [--name NAME] [--ca-cert FILE --ca-key FILE]
#                           [--pool CIDR] [--dir DIR]
#        provision-droid.sh --certs-only DIR --hostname HOST [--ca-cert FILE --ca-key FILE]
#
#   --hostname  the address berth connects to (IP or DNS name; default: this host's first IPv4)
#   --name      the server's name in berth (default: the short host name)
#   --ca-cert, --ca-key  sign with this CA instead of making one (e.g. one CA for the whole fleet)
#   --pool      address pool the engine carves /24 app networks from (default 10.200.0.0/14: 1024 networks)
#   --dir       where the CA and certificates are kept (default /etc/docker/berth-tls)
#   --certs-only DIR  only write certificates into DIR (ca.pem, ca-key.pem, server/, client/), touch nothing else
#
# Firewall: open 2376/tcp to berth's host only (the engine API is root on this machine), and 80/443
# to the front door (or to everyone when DNS points at this droid directly). Nothing else is needed.
set -euo pipefail
log() { printf '[provision-droid] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

host="" name="" ca_cert="" ca_key="" pool="10.200.0.0/14" dir=/etc/docker/berth-tls certs_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --hostname) host=${2:?--hostname needs a value}; shift 2 ;;
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --ca-cert) ca_cert=${2:?--ca-cert needs a file}; shift 2 ;;
    --ca-key) ca_key=${2:?--ca-key needs a file}; shift 2 ;;
    --pool) pool=${2:?--pool needs a CIDR}; shift 2 ;;
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --certs-only) certs_only=${2:?--certs-only needs a directory}; dir=$certs_only; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [ -n "$ca_cert$ca_key" ] && { [ ! -r "$ca_cert" ] || [ ! -r "$ca_key" ]; }; then
  die "--ca-cert and --ca-key must both name readable files"
fi
[[ $pool =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "--pool must be a CIDR, e.g. 10.200.0.0/14"
command -v openssl >/dev/null 2>&1 || [ -z "$certs_only" ] || die "--certs-only needs openssl"
if [ -z "$certs_only" ] && [ "$(id -u)" != 0 ]; then die "run as root (it installs and configures Docker)"; fi

# --- certificates -------------------------------------------------------------------------------
# P-256 keys: quick to make, and both dockerd (Go) and berth (Node) accept them.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# Signs a certificate for CN $2 with key $1 into $3; $4 is the extension text.
sign() {
  local key=$1 cn=$2 out=$3 ext=$4 tmp
  tmp=$(mktemp -d)
  openssl req -new -key "$key" -subj "/CN=$cn" -out "$tmp/csr" 2>/dev/null
  printf '%s\n' "$ext" >"$tmp/ext"
  openssl x509 -req -in "$tmp/csr" -CA "$ca_cert" -CAkey "$ca_key" -set_serial "$(serial)" \
    -days 3650 -sha256 -extfile "$tmp/ext" -out "$out" 2>/dev/null
  rm -rf "$tmp"
}

make_certs() {
  local out=$1 host=$2 san
  mkdir -p "$out/server" "$out/client"
  chmod 700 "$out"
  if [ -z "$ca_cert" ]; then
    ca_cert=$out/ca.pem ca_key=$out/ca-key.pem
    newkey "$ca_key"
    openssl req -x509 -new -key "$ca_key" -sha256 -days 3650 -subj "/CN=berth droid CA ($host)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -set_serial "$(serial)" -out "$ca_cert" 2>/dev/null
  elif [ "$(realpath "$ca_cert")" != "$(realpath -m "$out/ca.pem")" ]; then
    cp "$ca_cert" "$out/ca.pem"
  fi
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san="IP:$host"; else san="DNS:$host"; fi
  newkey "$out/server/key.pem"
  sign "$out/server/key.pem" "$host" "$out/server/cert.pem" \
    "$(printf 'subjectAltName=%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyAgreement\nbasicConstraints=critical,CA:FALSE' "$san")"
  newkey "$out/client/key.pem"
  sign "$out/client/key.pem" "berth" "$out/client/cert.pem" \
    "$(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyAgreement\nbasicConstraints=critical,CA:FALSE')"
  cp "$out/ca.pem" "$out/server/ca.pem"
  cp "$out/ca.pem" "$out/client/ca.pem"
}

default_host() { hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | head -1; }

if [ -n "$certs_only" ]; then
  [ -n "$host" ] || die "--certs-only needs --hostname (the address berth connects to)"
  make_certs "$certs_only" "$host"
  log "certificates in $certs_only: server/ for dockerd, client/ for berth (--tls-dir)"
  exit 0
fi

# --- packages ----------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/bin/docker-init ] || need+=(tini)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

host=${host:-$(default_host)}
[ -n "$host" ] || die "cannot tell this host's address: pass --hostname"
name=${name:-$(hostname -s | tr 'A-Z_' 'a-z-')}
if [ -f "$dir/server/cert.pem" ]; then
  log "keeping the certificates in $dir (remove it to make new ones)"
else
  make_certs "$dir" "$host"
fi

# --- engine configuration -----------------------------------------------------------------------
mkdir -p /etc/docker
if [ -s /etc/docker/daemon.json ] && ! grep -qF "\"$dir/server/ca.pem\"" /etc/docker/daemon.json; then
  backup=/etc/docker/daemon.json.before-berth-$(date +%s)
  cp /etc/docker/daemon.json "$backup"
  log "replacing /etc/docker/daemon.json (the old one is $backup: merge what you still need)"
fi
# The listeners go on dockerd's command line, not in "hosts" here: the packaged unit passes -H fd://
# (socket activation), and dockerd refuses to start when both name hosts.
cat >/etc/docker/daemon.json <<EOF
{
  "tlsverify": true,
  "tlscacert": "$dir/server/ca.pem",
  "tlscert": "$dir/server/cert.pem",
  "tlskey": "$dir/server/key.pem",
  "default-address-pools": [{ "base": "$pool", "size": 24 }],
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "3" }
}
EOF

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  # Debian's unit, with the TLS listener added; everything else as packaged.
  mkdir -p /etc/systemd/system/docker.service.d
  printf '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n' \
    >/etc/systemd/system/docker.service.d/berth-droid.conf
  systemctl daemon-reload
  systemctl enable docker >/dev/null 2>&1
  systemctl restart docker
else
  if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    log "restarting dockerd with the new configuration"
    kill "$(cat /var/run/docker.pid)"
    for _ in $(seq 1 60); do kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null || break; sleep 0.5; done
  fi
  log "starting dockerd (no systemd here: nothing restarts it after a reboot)"
  nohup dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376 >/var/log/berth-dockerd.log 2>&1 &
fi

client=$dir/client
docker_tls=(docker --tlsverify --tlscacert "$client/ca.pem" --tlscert "$client/cert.pem" --tlskey "$client/key.pem" -H "tcp://$host:2376")
for _ in $(seq 1 60); do "${docker_tls[@]}" version >/dev/null 2>&1 && break; sleep 0.5; done
"${docker_tls[@]}" version --format 'Docker {{.Server.Version}} answers on tcp://'"$host"':2376 with TLS' >&2 ||
  die "the engine does not answer on tcp://$host:2376 with TLS (see journalctl -u docker or /var/log/berth-dockerd.log)"

cat <<EOF

Copy the client bundle to berth's host (it is a root login on this server: keep it private):
  scp -r root@$host:$client ./$name-tls
Open 2376/tcp to berth's host only, and 80/443 to the front door. Then, on berth's host:
  berth servers add $name --docker tcp://$host:2376 --tls-dir ./$name-tls
EOF
