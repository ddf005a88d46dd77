#!/usr/bin/env bash
# llmproxy beside nginx: the same load sent to the fake backend (llmproxy mock) directly,
# through nginx as a plain reverse proxy (keep-alive upstream, no buffering, so streams
# flow as they come), through two bare Bun passthroughs (scripts/bun-passthrough.ts:
# Bun.serve + fetch and nothing else, the floor under llmproxy on Bun; once with the body
# passed natively, once read in JavaScript as a proxy with a usage tap must) and through
# llmproxy (metering on, as `llmproxy bench` runs it) on Bun and on Node, in one run, each
# phase against all of them in turn. Prints throughput as a share of nginx's, and the
# other numbers beside each other.
#
#   scripts/bench-peers.sh [--duration 5s] [--concurrency 64] [--rate 2000] [--streams 64]
#                          [--open-streams 1000] [--no-webhook] [--json]
#
# nginx runs as a temporary instance (its own config, pid file and logs in a temp dir,
# on a free 127.0.0.1 port), stopped at the end whatever happens. Environment:
#   NGINX          nginx executable (default /usr/sbin/nginx, the Debian package)
#   NGINX_WORKERS  worker processes (default 1: one process, like llmproxy)
#   LLMPROXY_BIN   llmproxy executable (default dist/llmproxy if built, else the sources)
#   LLMPROXY_MJS   the Node bundle run beside it (default dist/llmproxy.mjs if built;
#                  set it empty to leave Node out)
#   NODE           node executable for the bundle (default: node on the PATH)
set -euo pipefail

cd "$(dirname "$0")/.."
NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_WORKERS=${NGINX_WORKERS:-1}
BUN=${BUN:-node_modules/.bin/bun}
if [ -n "${LLMPROXY_BIN:-}" ]; then
  llmproxy=("$LLMPROXY_BIN")
elif [ -x dist/llmproxy ]; then
  llmproxy=("$PWD/dist/llmproxy")
else
  llmproxy=("$BUN" "$PWD/cmd/llmproxy.ts")
fi
[ -x "$NGINX" ] || { echo "bench-peers: no nginx at $NGINX (apt-get install nginx-light, or set NGINX)" >&2; exit 1; }
# unset: the built bundle if there is one; set but empty: no Node
if [ -z "${LLMPROXY_MJS+set}" ] && [ -f dist/llmproxy.mjs ]; then LLMPROXY_MJS="$PWD/dist/llmproxy.mjs"; fi
node_args=()
if [ -n "${LLMPROXY_MJS:-}" ]; then
  [ -f "$LLMPROXY_MJS" ] || { echo "bench-peers: no Node bundle at $LLMPROXY_MJS (npm run build, or set LLMPROXY_MJS= to leave Node out)" >&2; exit 1; }
  node_args=(--node-bundle "$LLMPROXY_MJS" --node "${NODE:-node}")
fi

tmp=$(mktemp -d /tmp/llmproxy-bench-peers-XXXXXX)
# nginx's workers run as nobody when started by root: they must reach the temp dir
chmod 755 "$tmp"
mock_pid=""
nginx_pid=""
floor_pid=""
floor_js_pid=""

stop_all() {
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    # nginx is not our child (it daemonizes): wait for its master to go, at most 5 s
    for _ in $(seq 100); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$nginx_pid" 2>/dev/null || true
  fi
  for p in "$floor_pid" "$floor_js_pid" "$mock_pid"; do
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP

# The fake backend on a free port: its first line on stdout says where.
mkfifo "$tmp/mock.out"
"${llmproxy[@]}" mock --listen 127.0.0.1:0 --quiet --tokens 16 --delay 0 >"$tmp/mock.out" &
mock_pid=$!
exec 3<"$tmp/mock.out"
read -r -t 15 line <&3 || { echo "bench-peers: llmproxy mock did not start" >&2; exit 1; }
backend=${line##* }
case "$backend" in http://127.0.0.1:*) ;; *) echo "bench-peers: unexpected line from llmproxy mock: $line" >&2; exit 1 ;; esac

# nginx cannot listen on port 0 and say which port it got: take a free one.
port=$("$BUN" -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop(true);')

cat >"$tmp/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
# 1000 open streams are two connections each (client side, upstream side)
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
  # an access log, as llmproxy writes one; buffered, as llmproxy batches its lines
  access_log $tmp/access.log combined buffer=64k flush=1s;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $tmp/client_body;
  proxy_temp_path $tmp/proxy_temp;
  fastcgi_temp_path $tmp/fastcgi_temp;
  uwsgi_temp_path $tmp/uwsgi_temp;
  scgi_temp_path $tmp/scgi_temp;
  upstream backend {
    server ${backend#http://};
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
EOF
# nginx returns once its socket listens (connections wait in the backlog from then on);
# its master, gone to the background, writes the pid file and then starts the workers,
# whose ids are wanted for their CPU time and memory: wait for them, at most 5 s.
"$NGINX" -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log"
workers=""
for _ in $(seq 250); do
  if [ -s "$tmp/nginx.pid" ]; then
    nginx_pid=$(cat "$tmp/nginx.pid")
    workers=$(pgrep -P "$nginx_pid" | tr '\n' ',' || true)
    [ "$(echo "$workers" | tr -cd ',' | wc -c)" -ge "$NGINX_WORKERS" ] && break
  fi
  sleep 0.02
done
[ -n "$workers" ] || { echo "bench-peers: nginx did not start its workers; $tmp/error.log:" >&2; cat "$tmp/error.log" >&2; exit 1; }
pids="$nginx_pid,${workers%,}"

# The Bun passthroughs, started with the settings llmproxy gives itself at start
# (src/runtime/start-env-bun.ts): the body passed natively, and read in JavaScript.
start_env=(BUN_CONFIG_MAX_HTTP_REQUESTS=65535 BUN_JSC_largeHeapSize=4194304)
mkfifo "$tmp/floor.out" "$tmp/floor-js.out"
env "${start_env[@]}" "$BUN" scripts/bun-passthrough.ts "$backend" >"$tmp/floor.out" &
floor_pid=$!
exec 4<"$tmp/floor.out"
read -r -t 15 line <&4 || { echo "bench-peers: scripts/bun-passthrough.ts did not start" >&2; exit 1; }
floor=${line##* }
env "${start_env[@]}" "$BUN" scripts/bun-passthrough.ts "$backend" --read-in-js >"$tmp/floor-js.out" &
floor_js_pid=$!
exec 5<"$tmp/floor-js.out"
read -r -t 15 line <&5 || { echo "bench-peers: scripts/bun-passthrough.ts --read-in-js did not start" >&2; exit 1; }
floor_js=${line##* }

bin_args=()
if [ "${llmproxy[0]}" != "$BUN" ]; then bin_args=(--bin "${llmproxy[0]}"); fi
"$BUN" scripts/bench-peers.ts --backend "$backend" --nginx "http://127.0.0.1:$port" --nginx-pids "$pids" --floor "$floor" --floor-pid "$floor_pid" --floor-js "$floor_js" --floor-js-pid "$floor_js_pid" "${bin_args[@]}" "${node_args[@]}" "$@"
