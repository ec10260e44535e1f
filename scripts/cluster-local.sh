#!/usr/bin/env bash
# The docker-compose topology without Docker: three broker nodes as local processes on 127.0.0.1.
#   node 1: http://127.0.0.1:5081  (Akka 4053, bootstrap 8558)
#   node 2: http://127.0.0.1:5082  (Akka 4054, bootstrap 8559)
#   node 3: http://127.0.0.1:5083  (Akka 4055, bootstrap 8560)
# The nodes form their cluster by Cluster Bootstrap with config discovery (PROTOCOL §9.6), not a
# seed list: in any start order, and a node killed and started again joins the cluster the other
# two kept (each node's command is in ./.cluster-logs/node-N.cmd: `bash .cluster-logs/node-1.cmd`).
#   PostgreSQL: 127.0.0.1:5433, database broker (durable rooms, PROTOCOL §9.2)
# Runs in Development (dev tokens, the built-in development key shared by all three nodes).
# Ctrl+C stops all three gracefully, then PostgreSQL. Logs go to ./.cluster-logs/node-N.log.
# PostgreSQL is Debian's (apt-get install postgresql): a cluster of its own in ./.cluster-data/pg,
# kept between runs (its log: ./.cluster-data/pg/server.log). Without it the nodes run with
# Broker:Persistence:Provider=none (rooms not durable) and a warning.
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet build Broker.Host -c Release -v quiet --nologo
dll=Broker.Host/bin/Release/net10.0/Broker.Host.dll
mkdir -p .cluster-logs
bootstrap_endpoints="127.0.0.1:8558,127.0.0.1:8559,127.0.0.1:8560"
pids=()

pg_port=5433
pg_dir="$PWD/.cluster-data/pg"
pg_bin=""
pg_started=""
persistence=(--Broker:Persistence:Provider=none)

warn() { echo "warning: $*" >&2; }

# initdb and pg_ctl: Debian's newest major version, else pg_config's, else PATH's.
find_pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  if dir=$(pg_config --bindir 2>/dev/null) && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"; return 0
  fi
  if dir=$(command -v initdb 2>/dev/null) && dir=$(dirname "$(readlink -f "$dir")") && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"; return 0
  fi
  return 1
}

# PostgreSQL refuses to run as root: as root, its programs run as the postgres user (from /, which it can enter).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start_pg() {
  if ! pg_bin=$(find_pg_bin); then
    warn "PostgreSQL is not installed (apt-get install postgresql): rooms are not durable (Broker:Persistence:Provider=none)"
    return 0
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    warn "running as root and there is no postgres user to run PostgreSQL as: rooms are not durable (Broker:Persistence:Provider=none)"
    return 0
  fi
  mkdir -p "$pg_dir"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$pg_dir"
  if ! as_pg test -w "$pg_dir"; then
    warn "the postgres user cannot write $pg_dir (a parent folder it may not enter): rooms are not durable (Broker:Persistence:Provider=none)"
    return 0
  fi
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$pg_dir/initdb.log" 2>&1 \
      || { cat "$pg_dir/initdb.log" >&2; echo "initdb failed" >&2; exit 1; }
  fi
  # Loopback TCP only, and no Unix socket (none in the system's /var/run/postgresql to collide with).
  # A server left running by an earlier run is reused, and stopped at the end of this one.
  if ! as_pg "$pg_bin/pg_ctl" status -D "$pg_dir/data" >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" start -w -t 60 -D "$pg_dir/data" -l "$pg_dir/server.log" \
      -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" >/dev/null \
      || { tail -n 20 "$pg_dir/server.log" >&2; echo "PostgreSQL did not start on 127.0.0.1:$pg_port; see $pg_dir/server.log" >&2; exit 1; }
  fi
  pg_started=1
  local psql=("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'broker'")" != 1 ]; then
    "${psql[@]}" -c "create database broker"
  fi
  persistence=(--Broker:Persistence:Provider=postgresql
    "--Broker:Persistence:ConnectionString=Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=broker")
  echo "PostgreSQL ready: 127.0.0.1:$pg_port, database broker"
}

stopped=""
stop() {
  [ -z "$stopped" ] || return 0
  stopped=1
  echo "stopping nodes…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  # After the nodes: they write to it until they are gone.
  if [ -n "$pg_started" ]; then
    echo "stopping PostgreSQL…"
    as_pg "$pg_bin/pg_ctl" stop -D "$pg_dir/data" -m fast -w >/dev/null || true
  fi
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

start_pg

for n in 1 2 3; do
  cmd=(env ASPNETCORE_ENVIRONMENT=Development dotnet "$dll"
    --urls "http://127.0.0.1:508$n"
    --Broker:Cluster:Hostname=127.0.0.1
    --Broker:Cluster:Port="405$((n + 2))"
    --Broker:Cluster:Discovery=config
    --Broker:Cluster:Bootstrap:Port="$((8557 + n))"
    --Broker:Cluster:Bootstrap:Endpoints="$bootstrap_endpoints"
    "${persistence[@]}")
  # To start this node again by hand (after a kill): it rejoins the running cluster.
  printf '%q ' "${cmd[@]}" > ".cluster-logs/node-$n.cmd"
  echo ">> .cluster-logs/node-$n.log 2>&1" >> ".cluster-logs/node-$n.cmd"
  "${cmd[@]}" > ".cluster-logs/node-$n.log" 2>&1 &
  pids+=($!)
done

for n in 1 2 3; do
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:508$n/health/ready" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "http://127.0.0.1:508$n/health/ready" >/dev/null || { echo "node $n did not become ready; see .cluster-logs/node-$n.log"; exit 1; }
  echo "node $n ready: http://127.0.0.1:508$n  (ws://127.0.0.1:508$n/ws/chat)"
done
echo "three-node cluster up. Ctrl+C to stop."
wait
