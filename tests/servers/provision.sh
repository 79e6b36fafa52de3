#!/usr/bin/env bash
# Provision the real servers the tests talk to: Neo4j 5.26 (Maven build of a tiny embedded
# launcher), InfluxDB 2.7 (Go build from the module proxy), Mosquitto 2 (Debian package),
# a Kubernetes API server with etcd, kubectl and helm (Go builds from the module proxy) and
# the base image the container tests build kgtwin's image on (debootstrap, podman),
# Microsoft's DTDL parser (npm, into tools/dtdl-parser/node_modules), an FMU exported by
# OpenModelica (from a PyPI wheel, with pip) and the Node packages the HTTP tests drive
# kgtwin with (npm ci from tests/http's lock file).
# Idempotent: finished builds are cached under ${KGTWIN_TEST_SERVERS_CACHE:-~/.cache/kgtwin-test-servers}.
# Outside CI a server that cannot be built is reported and its tests skip; with CI=true it fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}
mkdir -p "$cache/logs"
strict=${CI:-false}
status=0

missing() {  # $1 = server, $2 = what to do
  if [ "$strict" = true ]; then echo "provision: $1: $2" >&2; status=1
  else echo "provision: $1 skipped ($2); its tests will skip"; fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# --- Mosquitto -------------------------------------------------------------------------
if have mosquitto || [ -x /usr/sbin/mosquitto ]; then
  echo "provision: mosquitto ready ($(command -v mosquitto || echo /usr/sbin/mosquitto))"
elif [ "$(id -u)" = 0 ] && have apt-get; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >"$cache/logs/mosquitto.log" 2>&1 \
    || missing mosquitto "apt-get install mosquitto failed (see $cache/logs/mosquitto.log)"
else
  missing mosquitto "install it: sudo apt-get install mosquitto, or brew install mosquitto"
fi

# --- Node packages of the HTTP tests: graphql-http's audit, the graphql-ws client ---------
# Installed from tests/http/package-lock.json into the cache; again only when the lock changes.
if have npm; then
  node_dir="$cache/node/http"
  lock="$here/../http/package-lock.json"
  if [ -d "$node_dir/node_modules" ] && cmp -s "$lock" "$node_dir/installed.lock"; then
    echo "provision: node packages of tests/http ready"
  else
    mkdir -p "$node_dir"
    cp "$here/../http/package.json" "$lock" "$node_dir/"
    if (cd "$node_dir" && npm ci --no-audit --no-fund) >"$cache/logs/npm-http.log" 2>&1; then
      cp "$lock" "$node_dir/installed.lock"
      echo "provision: node packages of tests/http ready"
    else
      missing "node packages" "npm ci failed (see $cache/logs/npm-http.log)"
    fi
  fi
else
  missing "node packages" "needs Node 20 and npm (the HTTP audit and websocket client tests)"
fi

# --- The builds run side by side (downloads overlap compiles) ----------------------------
pids=()
if have java && have mvn; then
  ( bash "$here/neo4j/build.sh" >"$cache/logs/neo4j-build.log" 2>&1 ) & pids+=("$!:neo4j")
else
  missing neo4j "needs Java 17 and Maven (apt-get install openjdk-17-jdk-headless maven)"
fi
if have go && have cargo && have clang && have pkg-config; then
  ( bash "$here/influxdb/build.sh" >"$cache/logs/influxdb-build.log" 2>&1 ) & pids+=("$!:influxdb")
else
  missing influxdb "needs Go, Rust (cargo), clang and pkg-config"
fi
if have go; then
  ( bash "$here/kubernetes/build.sh" >"$cache/logs/kubernetes-build.log" 2>&1 ) & pids+=("$!:kubernetes")
else
  missing kubernetes "needs Go"
fi
if [ "$(id -u)" = 0 ] && have debootstrap && have podman && have buildah; then
  ( bash "$here/container/build-base.sh" >"$cache/logs/container-build.log" 2>&1 ) & pids+=("$!:container")
else
  missing container "needs root and apt-get install debootstrap podman buildah"
fi
for entry in "${pids[@]}"; do
  pid=${entry%%:*}; name=${entry#*:}
  if wait "$pid"; then
    echo "provision: $name ready"
  else
    tail -n 30 "$cache/logs/$name-build.log" >&2
    missing "$name" "build failed (log: $cache/logs/$name-build.log)"
  fi
done
# --- Microsoft's Node SDK for Azure Digital Twins (tests/adt/node) ------------------------
# npm ci of the locked versions into the cache; tests/adt/test_node_sdk.py runs it with NODE_PATH.
adt_node="$cache/adt-node"
if have node && have npm; then
  mkdir -p "$adt_node"
  cp "$here/../adt/node/package.json" "$here/../adt/node/package-lock.json" "$adt_node/"
  if (cd "$adt_node" && npm ci --no-audit --no-fund) >"$cache/logs/adt-node.log" 2>&1; then
    echo "provision: adt node sdk ready"
  else
    missing adt-node-sdk "npm ci failed (log: $cache/logs/adt-node.log)"
  fi
else
  missing adt-node-sdk "needs Node 20 and npm"
fi
# --- Microsoft's DTDL parser on Node: the oracle of tests/ontology/test_differential.py ---
if bash "$here/../../tools/dtdl-parser/install.sh" >"$cache/logs/dtdl-parser.log" 2>&1; then
  echo "provision: dtdl-parser ready"
else
  tail -n 20 "$cache/logs/dtdl-parser.log" >&2
  missing dtdl-parser "needs Node 20+ and npm (log: $cache/logs/dtdl-parser.log)"
fi
# --- An FMU another tool exported (tests/simulation/test_fmu_exported.py) ---------------
python=$here/../../.venv/bin/python
[ -x "$python" ] || python=python3
if PYTHON=$python bash "$here/fmu/fetch.sh" >"$cache/logs/fmu.log" 2>&1; then
  echo "provision: exported fmu ready"
else
  tail -n 20 "$cache/logs/fmu.log" >&2
  missing exported-fmu "pip download gemseo-fmu==3.1.1 failed (log: $cache/logs/fmu.log)"
fi
exit $status
