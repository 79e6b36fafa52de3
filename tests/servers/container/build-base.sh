#!/usr/bin/env bash
# Make the local base image the container tests build kgtwin's image on.
#
# There is no image registry to pull python:3.12-slim from, so the base is made here:
# a minimal Debian trixie root file system (debootstrap) with its python3 (3.13) and
# venv module, imported into podman's storage. Dockerfile takes it as
# --build-arg PYTHON_IMAGE=<the name written to $out_dir/image>.
#
# Idempotent and fast on re-runs: the root file system is cached as a tarball under
# ${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/container/; when podman
# has lost the image (a new storage), the tarball is imported again (seconds).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/container"
suite=trixie
mirror=${KGTWIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3,python3-venv,ca-certificates
tarball="$out_dir/base-$suite.tar"
stamp="$out_dir/base.inputs.sha256"

say() { printf '[container] %s\n' "$*"; }
die() { printf '[container] error: %s\n' "$*" >&2; exit 1; }

inputs_digest() { (cd "$here" && sha256sum build-base.sh); }

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, and podman's root storage the tests use)"
for tool in debootstrap podman buildah; do
    command -v "$tool" >/dev/null || die "'$tool' not found: apt-get install -y debootstrap podman buildah"
done

if [[ ! -f "$tarball" || ! -f "$stamp" || "$(inputs_digest)" != "$(cat "$stamp")" ]]; then
    SECONDS=0
    root="$(mktemp -d "${TMPDIR:-/tmp}/kgtwin-base.XXXXXX")"
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$out_dir"
    say "debootstrap $suite ($packages) from $mirror"
    # The downloaded packages are kept too: a changed script rebuilds without downloading.
    mkdir -p "$out_dir/debs"
    debootstrap --variant=minbase --include="$packages" --cache-dir="$out_dir/debs" "$suite" "$root" "$mirror" \
        >"$out_dir/debootstrap.log" 2>&1 || { tail -n 20 "$out_dir/debootstrap.log" >&2; die "debootstrap failed"; }
    # What an image needs no copy of: downloaded packages, package lists, manuals, translations.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
        "$root"/var/log/* "$root"/var/cache/debconf/*-old
    chroot "$root" python3 -c 'import sys; assert sys.version_info >= (3, 12), sys.version' \
        || die "the base's Python is older than 3.12"
    rm -f "$stamp"
    tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
    mv -f "$tarball.tmp" "$tarball"
    inputs_digest >"$stamp"
    say "root file system in $tarball ($(du -m "$tarball" | cut -f1) MB, ${SECONDS} s)"
fi

# The image's name carries the tarball's digest: a rebuilt base is a new name, so the
# tests' layer cache never mixes two bases.
digest="$(sha256sum "$tarball" | cut -c1-12)"
image="localhost/kgtwin-test-python:$suite-$digest"
if ! podman image exists "$image"; then
    podman import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' \
        "$tarball" "$image" >/dev/null
fi
echo "$image" >"$out_dir/image"
say "base image ready: $image ($(podman run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --network none "$image" python3 --version))"
