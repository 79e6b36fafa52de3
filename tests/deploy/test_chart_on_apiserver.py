"""The chart against a real Kubernetes API server (etcd + kube-apiserver built from Go).

Schema validation (test_chart.py) knows field names and types; the API server also runs
its own validation and admission: selectors that match their templates, port names,
quantities, Pod Security. The namespaces here enforce the ``restricted`` Pod Security
profile, so a pod spec that would be refused in a hardened cluster fails here too.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import CHART, PROFILES, Manifest, find, render, values_file
from tests.servers.kubernetes_server import KubeApiServer

pytestmark = pytest.mark.kubernetes
_namespaces = itertools.count()


@pytest.fixture
def namespace(kube_apiserver: KubeApiServer) -> str:
    """A fresh namespace that enforces the restricted Pod Security profile."""
    name = f"twin-{next(_namespaces)}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
            },
        },
    }
    # A cluster's controller manager gives every namespace this account; here nothing runs it.
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": name},
    }
    result = kube_apiserver.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([manifest, account]))
    assert result.returncode == 0, result.stderr
    return name


def server_dry_run(
    kube_apiserver: KubeApiServer, namespace: str, manifests: list[Manifest]
) -> subprocess.CompletedProcess[str]:
    return kube_apiserver.kubectl(
        "apply",
        "--dry-run=server",
        "--namespace",
        namespace,
        "-f",
        "-",
        stdin=yaml.safe_dump_all(manifests),
    )


def test_the_server_reports_the_release_it_was_built_from(kube_apiserver: KubeApiServer) -> None:
    result = kube_apiserver.kubectl("version", "--output=yaml")
    assert result.returncode == 0, result.stderr
    version = yaml.safe_load(result.stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    assert version["serverVersion"]["gitVersion"] == version["clientVersion"]["gitVersion"]


@pytest.mark.parametrize("profile", PROFILES)
def test_kubectl_server_dry_run_accepts_every_profile(
    helm: Path, kube_apiserver: KubeApiServer, namespace: str, profile: str
) -> None:
    manifests = render(helm, profile)
    result = server_dry_run(kube_apiserver, namespace, manifests)
    assert result.returncode == 0, result.stderr
    accepted = [line for line in result.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(manifests), result.stdout
    # Warnings include Pod Security violations of the restricted profile and deprecated APIs.
    assert "warning" not in result.stderr.lower(), result.stderr


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_server_dry_run_installs_every_profile(
    helm: Path, kube_apiserver: KubeApiServer, namespace: str, profile: str
) -> None:
    result = subprocess.run(
        [
            str(helm),
            "install",
            "kgtwin",
            str(CHART),
            "--namespace",
            namespace,
            "-f",
            str(values_file(profile)),
            "--dry-run=server",
            "--kubeconfig",
            str(kube_apiserver.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "STATUS: pending-install" in result.stdout
    assert "warning" not in result.stderr.lower(), result.stderr


def test_the_server_catches_what_schema_validation_passes(
    helm: Path, kube_apiserver: KubeApiServer, namespace: str
) -> None:
    manifests = render(helm, "minimal")
    api = find(manifests, "Deployment", "kgtwin-api")
    # A selector that matches no pod of the template: well-typed, so the schema passes it.
    api["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "apl"
    kubernetes_validate.validate(api, "1.30.0", strict=True)
    result = server_dry_run(kube_apiserver, namespace, [api])
    assert result.returncode != 0
    assert "`selector` does not match template `labels`" in result.stderr


def test_restricted_pod_security_refuses_a_root_pod(kube_apiserver: KubeApiServer, namespace: str) -> None:
    """The Pod Security check above can fail: the same server refuses a pod running as root."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": "kgtwin", "securityContext": {"runAsUser": 0}}]},
    }
    result = server_dry_run(kube_apiserver, namespace, [pod])
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted' in result.stderr


def test_install_then_a_setting_change_upgrades_and_rolls_the_pods(
    helm: Path, kube_apiserver: KubeApiServer, namespace: str
) -> None:
    """A real install and upgrade: objects stored, then patched by helm's three-way merge."""
    base = [
        str(helm),
        "--kubeconfig",
        str(kube_apiserver.kubeconfig),
        "--namespace",
        namespace,
    ]
    install = subprocess.run(
        [*base, "install", "kgtwin", str(CHART), "-f", str(values_file("minimal"))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr

    def pod_template_checksum() -> str:
        result = kube_apiserver.kubectl(
            "get",
            "deployment",
            "kgtwin-api",
            "--namespace",
            namespace,
            "-o",
            "jsonpath={.spec.template.metadata.annotations.checksum/config}",
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    before = pod_template_checksum()
    upgrade = subprocess.run(
        [
            *base,
            "upgrade",
            "kgtwin",
            str(CHART),
            "-f",
            str(values_file("minimal")),
            "--set",
            "settings.log_level=debug",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    config = kube_apiserver.kubectl(
        "get", "configmap", "kgtwin", "--namespace", namespace, "-o", "jsonpath={.data.KGTWIN_LOG_LEVEL}"
    )
    assert config.stdout == "debug"
    assert pod_template_checksum() != before
    stored = kube_apiserver.kubectl(
        "get",
        "statefulset",
        "kgtwin-ingest",
        "--namespace",
        namespace,
        "-o",
        "jsonpath={.spec.volumeClaimTemplates[0].metadata.name}",
    )
    assert stored.stdout == "spool"
    uninstall = subprocess.run([*base, "uninstall", "kgtwin"], capture_output=True, text=True, check=False)
    assert uninstall.returncode == 0, uninstall.stderr


def test_a_workload_that_breaks_the_restricted_profile_draws_a_warning(
    helm: Path, kube_apiserver: KubeApiServer, namespace: str
) -> None:
    """The no-warning checks above can fail: a writable, privileged pod template is flagged."""
    api = find(render(helm, "minimal"), "Deployment", "kgtwin-api")
    container = api["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"allowPrivilegeEscalation": True}
    result = server_dry_run(kube_apiserver, namespace, [api])
    assert result.returncode == 0, result.stderr  # workloads are warned about; their pods are refused
    assert 'would violate PodSecurity "restricted' in result.stderr
