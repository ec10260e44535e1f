#!/usr/bin/env bash
# The docker-compose topology without Docker: three broker nodes as local processes on 127.0.0.1.
#   node 1: http://127.0.0.1:5081  (Akka 4053, the seed)
#   node 2: http://127.0.0.1:5082  (Akka 4054)
#   node 3: http://127.0.0.1:5083  (Akka 4055)
# Runs in Development (dev tokens, the built-in development key shared by all three nodes).
# Ctrl+C stops all three gracefully. Logs go to ./.cluster-logs/node-N.log.
set -euo pipefail
cd "$(dirname "$0")/.."

dotnet build Broker.Host -c Release -v quiet --nologo
dll=Broker.Host/bin/Release/net10.0/Broker.Host.dll
mkdir -p .cluster-logs
seeds="akka.tcp://broker@127.0.0.1:4053"
pids=()

stop() {
  echo "stopping nodes…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop EXIT INT TERM

for n in 1 2 3; do
  ASPNETCORE_ENVIRONMENT=Development dotnet "$dll" \
    --urls "http://127.0.0.1:508$n" \
    --Broker:Cluster:Hostname=127.0.0.1 \
    --Broker:Cluster:Port="405$((n + 2))" \
    --Broker:Cluster:SeedNodes="$seeds" \
    > ".cluster-logs/node-$n.log" 2>&1 &
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
