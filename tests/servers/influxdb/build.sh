#!/usr/bin/env bash
# Build the InfluxDB 2.7 OSS server (influxd) that the integration tests start.
#
# influxd links libflux, a Rust library. influxdata/pkg-config answers cgo's
# `pkg-config flux` by building libflux with cargo from the flux Go module, so one
# `go build` compiles both. Idempotent: when the binary was built from the current
# inputs (go.mod, go.sum, main.go and this script), nothing is done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/influxdb"
binary="$out_dir/influxd"
stamp="$out_dir/influxd.inputs.sha256"

say() { printf '[influxdb] %s\n' "$*"; }
die() { printf '[influxdb] error: %s\n' "$*" >&2; exit 1; }

inputs_digest() {
    (cd "$here" && sha256sum go.mod go.sum main.go rustc-wrapper.sh build.sh)
}

if [[ -x "$binary" && -f "$stamp" ]] && [[ "$(inputs_digest)" == "$(cat "$stamp")" ]]; then
    say "up to date: $binary"
    exit 0
fi

for tool in go cargo cc clang pkg-config; do
    command -v "$tool" >/dev/null \
        || die "'$tool' not found; needs Go, Rust (rustup, stable toolchain) and: apt-get install -y pkg-config clang"
done
# flux pins Rust 1.72 in its rust-toolchain file; build with whatever stable is installed.
export RUSTUP_TOOLCHAIN=stable
# flux's crates say #![deny(warnings)] and newer compilers warn more: cap lints at warn.
export RUSTC_WRAPPER="$here/rustc-wrapper.sh"
export CGO_ENABLED=1

mkdir -p "$out_dir/bin"
SECONDS=0
say "installing influxdata/pkg-config into $out_dir/bin"
GOBIN="$out_dir/bin" go install github.com/influxdata/pkg-config@latest
export PKG_CONFIG="$out_dir/bin/pkg-config"

say "building influxd with $(go version | cut -d' ' -f3) and $(cargo --version | cut -d' ' -f1-2)"
say "(first build downloads Go modules and Rust crates and compiles libflux: several minutes)"
rm -f "$stamp"
cd "$here"
# Same build tags as influxdb's GNUmakefile, minus `assets` (the web UI, unused here).
go build -buildvcs=false -tags sqlite_foreign_keys,sqlite_json -o "$binary.tmp" .
mv -f "$binary.tmp" "$binary"
inputs_digest >"$stamp"

say "built $binary ($(du -m "$binary" | cut -f1) MB) in ${SECONDS} s"
