#!/usr/bin/env bash
# Build the Neo4j test server (Neo4j 5.26 Community embedded in Neo4jTestServer) into
#   ${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/neo4j/
#     neo4j-test-server.jar   the launcher
#     lib/                    every runtime dependency jar
#     stamp                   hash of the inputs the build came from
# Idempotent: does nothing when the stamp matches pom.xml, the Java sources and this
# script. Maven's build directory lives in the cache, so nothing is written under tests/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/neo4j"

inputs_hash() {
    # Relative paths, sorted, so the hash depends only on the content of the inputs.
    (cd "$here" && find pom.xml build.sh src -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

want="$(inputs_hash)"
if [[ -f "$cache/stamp" && "$(cat "$cache/stamp")" == "$want" && -f "$cache/neo4j-test-server.jar" && -d "$cache/lib" ]]; then
    echo "neo4j test server: up to date in $cache"
    exit 0
fi

command -v mvn >/dev/null || { echo "neo4j test server: needs Maven (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "neo4j test server: needs a Java 17+ runtime" >&2; exit 1; }

echo "neo4j test server: building into $cache"
mkdir -p "$cache"
build="$cache/.build"
rm -rf "$build"
mvn -q -B -f "$here/pom.xml" -Dkgtwin.build.dir="$build" package dependency:copy-dependencies

# Replace the previous build only once the new one is complete; the stamp goes last.
rm -rf "$cache/stamp" "$cache/lib" "$cache/neo4j-test-server.jar"
mv "$build/lib" "$cache/lib"
mv "$build/neo4j-test-server.jar" "$cache/neo4j-test-server.jar"
rm -rf "$build"
echo "$want" >"$cache/stamp"
echo "neo4j test server: built ($(find "$cache/lib" -name '*.jar' | wc -l) dependency jars)"
