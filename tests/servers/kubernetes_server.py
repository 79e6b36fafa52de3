"""A Kubernetes control plane for the chart's checks: etcd and kube-apiserver.

Both are built from Go modules by ``tests/servers/kubernetes/build.sh`` (with kubectl and
helm). No controllers, no scheduler, no nodes: nothing runs, but every object goes
through the API server's own decoding, defaulting, validation and admission (Pod
Security included), which is what ``kubectl apply --dry-run=server`` and
``helm install --dry-run=server`` ask of it. Callers authenticate with a static token
of a ``system:masters`` user; authorisation is RBAC, as in a real cluster.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.servers.process import CACHE_DIR, ServerProcess, ServerUnavailable, free_port, launch

KUBE_DIR = CACHE_DIR / "kubernetes"
TOOLS = ("etcd", "kube-apiserver", "kubectl", "helm")
# etcd answers in well under a second; kube-apiserver is ready (RBAC bootstrap policy and
# the built-in priority levels written) in about 3 s on a quiet machine, many times that
# on a loaded one.
ETCD_START_TIMEOUT_S = 30.0
APISERVER_START_TIMEOUT_S = 120.0
SERVICE_CIDR = "10.96.0.0/16"


def kube_tool(name: str) -> Path:
    """The path of one of the built tools (etcd, kube-apiserver, kubectl, helm)."""
    path = KUBE_DIR / name
    if not path.is_file():
        raise ServerUnavailable(f"{name} not built: run tests/servers/provision.sh (needs Go)")
    return path


@dataclass
class KubeApiServer:
    """A running control plane and a kubeconfig that reaches it as a cluster admin."""

    etcd: ServerProcess
    apiserver: ServerProcess
    url: str
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this server; the caller checks the outcome."""
        return subprocess.run(
            [str(kube_tool("kubectl")), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def stop(self) -> None:
        self.apiserver.stop()
        self.etcd.stop()


def start_kube_apiserver(workdir: Path) -> KubeApiServer:
    """Start etcd, then kube-apiserver on it, both on free loopback ports; wait until ready."""
    etcd_binary, apiserver_binary = kube_tool("etcd"), kube_tool("kube-apiserver")
    kube_tool("kubectl")
    etcd = _start_etcd(etcd_binary, workdir / "etcd")
    try:
        apiserver, url, token = _start_apiserver(apiserver_binary, workdir / "apiserver", etcd.port)
    except BaseException:
        etcd.stop()
        raise
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(_kubeconfig(url, workdir / "apiserver" / "certs" / "apiserver.crt", token))
    return KubeApiServer(etcd=etcd, apiserver=apiserver, url=url, kubeconfig=kubeconfig)


def _start_etcd(binary: Path, workdir: Path) -> ServerProcess:
    client_port, peer_port = free_port(), free_port()
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    argv = [
        str(binary),
        "--name=kgtwin-tests",
        f"--data-dir={workdir / 'data'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=kgtwin-tests={peer}",
        # Throw-away data: no fsync per write keeps the tests off the disk's latency.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]
    process = launch("etcd", argv, workdir, client_port)
    process.wait_until_listening(ETCD_START_TIMEOUT_S)
    return process


def _start_apiserver(binary: Path, workdir: Path, etcd_port: int) -> tuple[ServerProcess, str, str]:
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{token},kgtwin-tests,kgtwin-tests,"system:masters"\n')
    key = workdir / "service-account.key"
    key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = free_port()
    argv = [
        str(binary),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        # A self-signed serving certificate (and its CA) is written here.
        f"--cert-dir={workdir / 'certs'}",
        f"--token-auth-file={tokens}",
        "--authorization-mode=RBAC",
        f"--service-account-key-file={key}",
        f"--service-account-signing-key-file={key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # No nodes: the `kubernetes` Service's endpoints would point at loopback, which
        # the API server itself refuses; nothing here needs them.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=1",
    ]
    process = launch("kube-apiserver", argv, workdir, port)
    url = f"https://127.0.0.1:{port}"
    try:
        process.wait_until_listening(APISERVER_START_TIMEOUT_S)
        _wait_until_ready(process, url, token, time.monotonic() + APISERVER_START_TIMEOUT_S)
    except BaseException:
        process.stop()
        raise
    return process, url, token


def _wait_until_ready(process: ServerProcess, url: str, token: str, deadline: float) -> None:
    """Poll ``/readyz`` until every check passes (etcd, RBAC bootstrap, informers synced)."""
    last = ""
    # The serving certificate is our own server's, made moments ago; the kubeconfig pins its CA.
    with httpx.Client(base_url=url, verify=False, headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                raise RuntimeError(
                    f"kube-apiserver exited with code {process.process.returncode}:\n{process.log_tail()}"
                )
            try:
                response = client.get("/readyz", timeout=5.0)
            except httpx.TransportError as exc:
                last = str(exc)
            else:
                if response.status_code == httpx.codes.OK:
                    return
                last = response.text[-500:]
            time.sleep(0.2)
    raise RuntimeError(
        f"kube-apiserver was not ready in {APISERVER_START_TIMEOUT_S} s: {last}\n{process.log_tail()}"
    )


def _kubeconfig(url: str, ca: Path, token: str) -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters:
  - name: kgtwin-tests
    cluster:
      server: {url}
      certificate-authority: {ca}
users:
  - name: kgtwin-tests
    user:
      token: {token}
contexts:
  - name: kgtwin-tests
    context:
      cluster: kgtwin-tests
      user: kgtwin-tests
      namespace: default
current-context: kgtwin-tests
"""
