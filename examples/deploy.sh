#!/usr/bin/env bash
# Deploy the example app (examples/app: a web and a worker process joined by a network) on
# this machine with the embedded defaults: the file property store and the docker-local
# scheduler. For a fresh Debian 12 machine, as root. Safe to run again: each step checks
# before it acts, and a second run deploys a new release with zero downtime.
set -euo pipefail
cd "$(dirname "$0")/.."
APP=${APP:-example}
NET=${NET:-example-net}
HTTP_PORT=${HTTP_PORT:-8080}
TCP_PORT=${TCP_PORT:-7070}
BASE=${BASE:-dockyard/busybox:latest}
step() { printf '\n=====> %s\n' "$*"; }

step "Debian packages (docker.io, nginx + stream module, busybox-static, python3-venv)"
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v pgrep >/dev/null 2>&1 || missing="$missing procps"
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
[ -x /bin/busybox ] || missing="$missing busybox-static"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing python3-venv"
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

step "dockerd"
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl start docker >/dev/null 2>&1; then :; fi
  bash .ci/start-dockerd
fi
docker info --format 'docker {{.ServerVersion}} is running'

step "Base image $BASE (offline, from busybox-static)"
bash examples/base-image.sh "$BASE"

step "Dockyard in .venv"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e . >/dev/null
DY=.venv/bin/dockyard

step "App $APP and network $NET"
$DY apps:exists "$APP" >/dev/null 2>&1 || $DY apps:create "$APP"
$DY network:exists "$NET" >/dev/null 2>&1 || $DY network:create "$NET"
# attached after create, before start: both processes reach each other by alias at boot
$DY network:set "$APP" attach-post-create "$NET"
$DY checks:set "$APP" wait 2
$DY checks:set "$APP" wait-to-retire 2
$DY ps:scale "$APP" web=1 worker=1

step "Routing through nginx: web on :$HTTP_PORT, the worker's TCP echo on :$TCP_PORT (stream module)"
# A private nginx whose config lives under DOCKYARD_ROOT; high ports so that it never
# fights a system nginx for :80.
$DY ports:set "$APP" "http:$HTTP_PORT:5000" "tcp:$TCP_PORT:7000:worker"
$DY nginx:start

step "Deploy (docker build of examples/app, then a zero-downtime rollout)"
$DY deploy "$APP" --build examples/app

step "Report"
$DY ps:report "$APP"
$DY network:report "$APP"

step "The web process answers, and the worker echoes over the app's network"
$DY run "$APP" sh -c "wget -q -O- http://$APP.web:5000/ | grep -o 'Hello[^<]*'; echo ping | nc -w 1 $APP.worker 7000"

step "Both processes answer through nginx"
curl -fsS "http://127.0.0.1:$HTTP_PORT/" | grep -o 'Hello[^<]*'
exec 3<>"/dev/tcp/127.0.0.1/$TCP_PORT"   # a real TCP round trip through nginx's stream module
printf 'ping through nginx\n' >&3
read -r -t 5 echoed <&3
exec 3<&-
echo "$echoed"
[ "$echoed" = "ping through nginx" ]
$DY proxy:report "$APP"
