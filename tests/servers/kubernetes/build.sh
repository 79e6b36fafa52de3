#!/usr/bin/env bash
# Build the Kubernetes tools the chart's checks use, from the Go module proxy:
#   kube-apiserver and kubectl   from k8s.io/kubernetes (this module's go.mod pins the release)
#   etcd                         from go.etcd.io/etcd/server/v3/etcdmain (etcd/main.go)
#   helm                         go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION
# into ${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/kubernetes/.
# Idempotent: nothing is done when the binaries were built from the current inputs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}/kubernetes"
stamp="$out_dir/inputs.sha256"
HELM_VERSION=v3.21.4
binaries=(kube-apiserver kubectl etcd helm)

say() { printf '[kubernetes] %s\n' "$*"; }

inputs_digest() {
    (cd "$here" && sha256sum go.mod go.sum etcd/main.go build.sh)
}

up_to_date() {
    [[ -f "$stamp" && "$(inputs_digest)" == "$(cat "$stamp")" ]] || return 1
    for binary in "${binaries[@]}"; do [[ -x "$out_dir/$binary" ]] || return 1; done
}

if up_to_date; then
    say "up to date: $out_dir"
    exit 0
fi
command -v go >/dev/null || { say "error: needs Go" >&2; exit 1; }

mkdir -p "$out_dir"
rm -f "$stamp"
SECONDS=0
cd "$here"
# The servers report this version (kubectl version, helm's .Capabilities.KubeVersion);
# without it they say v0.0.0-master, which charts' kubeVersion constraints refuse.
k8s_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
version_flags=""
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    version_flags+=" -X $package.gitVersion=$k8s_version -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    version_flags+=" -X $package.gitTreeState=clean"
done
export CGO_ENABLED=0
say "building kube-apiserver, kubectl and etcd ($k8s_version) with $(go version | cut -d' ' -f3)"
say "(the first build downloads and compiles a few hundred modules: several minutes)"
go build -trimpath -ldflags "-s -w $version_flags" -o "$out_dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags "-s -w $version_flags" -o "$out_dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
go build -trimpath -ldflags "-s -w" -o "$out_dir/etcd.tmp" ./etcd
say "building helm $HELM_VERSION"
# As helm's Makefile does: its version, and the Kubernetes release of its client-go as the
# default of `helm template` and `helm lint` (without it they assume v1.20 and refuse charts
# that require a newer one).
helm_gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
helm_kube_minor="$(sed -n 's/^\s*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_gomod")"
[[ -n "$helm_kube_minor" ]] || { say "error: no k8s.io/client-go in $helm_gomod" >&2; exit 1; }
helm_flags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for package in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    helm_flags+=" -X $package.k8sVersionMajor=1 -X $package.k8sVersionMinor=$helm_kube_minor"
done
GOBIN="$out_dir/.gobin" go install -trimpath -ldflags "-s -w $helm_flags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
mv -f "$out_dir/.gobin/helm" "$out_dir/helm"
for binary in kube-apiserver kubectl etcd; do mv -f "$out_dir/$binary.tmp" "$out_dir/$binary"; done
inputs_digest >"$stamp"
say "built ${binaries[*]} in ${SECONDS} s ($(du -csm "${binaries[@]/#/$out_dir/}" | tail -1 | cut -f1) MB)"
