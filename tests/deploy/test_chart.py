"""The Helm chart: lint, render, and what each profile promises in docs/deployment.md.

Checked offline with the real helm (built by the provisioning) and kubernetes-validate's
schemas; ``test_chart_on_apiserver.py`` sends the same manifests to a real API server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from kgtwin.cli import app
from kgtwin.settings import ENV_PREFIX, Settings
from tests.deploy.conftest import (
    CHART,
    CONTRACT_SETTINGS,
    PROFILES,
    Manifest,
    containers,
    env_of,
    find,
    render,
    run_helm,
    values_file,
)

pytestmark = pytest.mark.kubernetes  # helm comes from the Kubernetes build

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest whose
# schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
KGTWIN_COMMANDS = {
    command.name or command.callback.__name__ for command in app.registered_commands if command.callback
}


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_lint_passes_strictly(helm: Path, profile: str) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(values_file(profile)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_rendered_manifests_pass_strict_schema_validation(
    helm: Path, tmp_path: Path, profile: str, kubernetes_version: str
) -> None:
    manifests = render(helm, profile)
    rendered = tmp_path / f"{profile}.yaml"
    rendered.write_text(yaml.safe_dump_all(manifests))
    # --strict: a field the schema does not know (a typo, a field of a newer release) fails.
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--kubernetes-version", kubernetes_version, str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(manifests), result.stdout


def test_strict_schema_validation_refuses_an_unknown_field(tmp_path: Path) -> None:
    """The check above can fail: a misspelt field is refused."""
    manifest = tmp_path / "typo.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndta: {a: b}\n")
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", str(manifest)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "'dta' was unexpected" in result.stdout + result.stderr


def test_microservices_profiles_render_every_service(helm: Path) -> None:
    for profile in ("minimal", "production"):
        manifests = render(helm, profile)
        kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
        assert {
            ("Deployment", "kgtwin-api"),
            ("Service", "kgtwin-api"),
            ("StatefulSet", "kgtwin-ingest"),
            ("Service", "kgtwin-ingest"),
            ("Deployment", "kgtwin-worker"),
            ("ConfigMap", "kgtwin"),
            ("NetworkPolicy", "kgtwin-api"),
            ("NetworkPolicy", "kgtwin-ingest"),
            ("NetworkPolicy", "kgtwin-worker"),
        } <= kinds, profile
        assert not any(kind == "StatefulSet" and name == "kgtwin-serve" for kind, name in kinds)
    production = render(helm, "production")
    assert (
        find(production, "HorizontalPodAutoscaler", "kgtwin-api")["spec"]["metrics"][0]["resource"]["name"]
        == "cpu"
    )
    assert find(production, "PodDisruptionBudget", "kgtwin-api")["spec"]["maxUnavailable"] == 1
    # Production takes its credentials from a Secret made outside the chart.
    assert not [m for m in production if m["kind"] == "Secret"]
    api = find(production, "Deployment", "kgtwin-api")
    assert "replicas" not in api["spec"], "the HPA owns the replica count"
    assert (
        find(production, "Ingress", "kgtwin")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"][
            "name"
        ]
        == "kgtwin-api"
    )


def test_edge_profile_is_one_serve_pod_with_its_data_on_a_volume(helm: Path) -> None:
    manifests = render(helm, "edge")
    workloads = [m for m in manifests if m["kind"] in {"Deployment", "StatefulSet"}]
    assert [(w["kind"], w["metadata"]["name"]) for w in workloads] == [("StatefulSet", "kgtwin-serve")]
    serve = workloads[0]
    assert serve["spec"]["replicas"] == 1
    (container,) = serve["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "serve"
    assert env_of(container)["KGTWIN_BROKER_URL"]["value"] == "embedded://0.0.0.0:1883"
    assert {"name": "data", "mountPath": "/var/lib/kgtwin/data"} in container["volumeMounts"]
    assert serve["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    ports = {p["name"]: p["port"] for p in find(manifests, "Service", "kgtwin-serve")["spec"]["ports"]}
    assert ports == {"http": 8000, "mqtt": 1883}
    # No backend URLs: everything is embedded, so no Secret either.
    assert not [m for m in manifests if m["kind"] == "Secret"]


def test_api_rolls_out_without_taking_capacity_and_probes_health(helm: Path) -> None:
    api = find(render(helm, "minimal"), "Deployment", "kgtwin-api")
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
    grace = api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    # kgtwin stops within its grace, which starts after the preStop sleep and ends before SIGKILL.
    assert int(env_of(container)["KGTWIN_SHUTDOWN_GRACE_S"]["value"]) + 5 < grace


def test_ingest_members_have_stable_client_ids_and_their_own_spool(helm: Path) -> None:
    manifests = render(helm, "production")
    ingest = find(manifests, "StatefulSet", "kgtwin-ingest")
    assert ingest["spec"]["replicas"] == 2
    assert ingest["spec"]["serviceName"] == "kgtwin-ingest"
    assert find(manifests, "Service", "kgtwin-ingest")["spec"]["clusterIP"] == "None"
    (container,) = ingest["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # Kubernetes expands $(POD_NAME): kgtwin-ingest-0, -1, ... for as long as the member exists.
    assert env["KGTWIN_INGEST_CLIENT_ID"]["value"] == "twin.$(POD_NAME)"
    assert env["KGTWIN_INGEST_SHARED_GROUP"]["value"] == "twin.kgtwin"
    assert env["KGTWIN_INGEST_SPOOL_DIR"]["value"] == "/var/lib/kgtwin/spool"
    assert {"name": "spool", "mountPath": "/var/lib/kgtwin/spool"} in container["volumeMounts"]
    (claim,) = ingest["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "spool"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {"name": "health", "containerPort": 8001, "protocol": "TCP"} in container["ports"]


def test_the_shared_group_and_client_ids_can_be_named(helm: Path) -> None:
    ingest = find(
        render(helm, "minimal", "ingest.clientIdPrefix=plant-a-", "ingest.sharedGroup=plant-a"),
        "StatefulSet",
        "kgtwin-ingest",
    )
    env = env_of(ingest["spec"]["template"]["spec"]["containers"][0])
    assert env["KGTWIN_INGEST_CLIENT_ID"]["value"] == "plant-a-$(POD_NAME)"
    assert env["KGTWIN_INGEST_SHARED_GROUP"]["value"] == "plant-a"


@pytest.mark.parametrize(("lease", "grace"), [(None, 45), ("120", 135), ("2.5", 18)])
def test_worker_grace_period_covers_a_lease(helm: Path, lease: str | None, grace: int) -> None:
    overrides = [f"settings.worker_lease_s={lease}"] if lease else []
    worker = find(render(helm, "minimal", *overrides), "Deployment", "kgtwin-worker")
    spec = worker["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == grace
    shutdown = int(env_of(spec["containers"][0])["KGTWIN_SHUTDOWN_GRACE_S"]["value"])
    assert 0 < shutdown < grace


def test_backend_credentials_live_in_the_secret_only(helm: Path) -> None:
    manifests = render(helm, "minimal", "backends.graphUrl=neo4j://neo4j:s3cret-pw@neo4j:7687")
    secret = find(manifests, "Secret", "kgtwin")
    assert secret["stringData"]["KGTWIN_GRAPH_URL"] == "neo4j://neo4j:s3cret-pw@neo4j:7687"
    others = [m for m in manifests if m["kind"] != "Secret"]
    assert "s3cret-pw" not in repr(others)
    for container in containers(manifests):
        refs = [source.get("secretRef", {}).get("name") for source in container["envFrom"]]
        assert "kgtwin" in refs


def test_an_existing_secret_replaces_the_charts(helm: Path) -> None:
    manifests = render(helm, "production")
    for container in containers(manifests):
        secret_refs = [s["secretRef"] for s in container["envFrom"] if "secretRef" in s]
        assert secret_refs == [{"name": "kgtwin-backends", "optional": False}]


def test_settings_become_kgtwin_environment_variables(helm: Path) -> None:
    manifests = render(
        helm,
        "minimal",
        "settings.ingest_spool_max_points=2000000",
        "settings.cypher_timeout_s=2.5",
        "settings.log_level=debug",
    )
    data = find(manifests, "ConfigMap", "kgtwin")["data"]
    # Whole numbers keep no exponent, which pydantic would refuse for an int setting.
    assert data["KGTWIN_INGEST_SPOOL_MAX_POINTS"] == "2000000"
    assert data["KGTWIN_CYPHER_TIMEOUT_S"] == "2.5"
    assert data["KGTWIN_LOG_LEVEL"] == "debug"
    assert data["KGTWIN_API_KEYS"] == "true"
    # And kgtwin reads them as the values they were meant to be.
    settings = Settings(**{k.removeprefix(ENV_PREFIX).lower(): v for k, v in data.items()})
    assert settings.ingest_spool_max_points == 2_000_000
    assert settings.cypher_timeout_s == 2.5
    assert settings.api_keys is True


def test_a_setting_change_rolls_every_pod(helm: Path) -> None:
    def checksums(manifests: list[Manifest]) -> set[str]:
        return {
            m["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for m in manifests
            if m["kind"] in {"Deployment", "StatefulSet"}
        }

    before = checksums(render(helm, "minimal"))
    after = checksums(render(helm, "minimal", "settings.log_level=debug"))
    assert len(before) == 1
    assert len(after) == 1
    assert before != after


@pytest.mark.parametrize("profile", PROFILES)
def test_every_kgtwin_variable_the_chart_sets_is_a_setting(helm: Path, profile: str) -> None:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields} | CONTRACT_SETTINGS
    manifests = render(helm, profile)
    names = set(find(manifests, "ConfigMap", "kgtwin")["data"])
    for secret in (m for m in manifests if m["kind"] == "Secret"):
        names |= set(secret["stringData"])
    for container in containers(manifests):
        names |= set(env_of(container))
    kgtwin_names = {name for name in names if name.startswith(ENV_PREFIX)}
    assert kgtwin_names
    assert kgtwin_names <= known, kgtwin_names - known
    # And the profile's settings are ones kgtwin accepts.
    data = find(manifests, "ConfigMap", "kgtwin")["data"]
    Settings(**{name.removeprefix(ENV_PREFIX).lower(): value for name, value in data.items()})


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_runs_a_kgtwin_service(helm: Path, profile: str) -> None:
    for container in containers(render(helm, profile)):
        assert container["args"][0] in KGTWIN_COMMANDS & {"serve", "api", "ingest", "worker"}


@pytest.mark.parametrize("profile", PROFILES)
def test_pods_run_unprivileged_on_a_read_only_root(helm: Path, profile: str) -> None:
    for workload in (m for m in render(helm, profile) if m["kind"] in {"Deployment", "StatefulSet"}):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]["memory"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_network_policies_admit_only_each_pods_own_ports(helm: Path) -> None:
    manifests = render(helm, "production")
    api = find(manifests, "NetworkPolicy", "kgtwin-api")["spec"]
    assert api["policyTypes"] == ["Ingress", "Egress"]
    # The API's port: from the ingress controller, and from the monitoring namespace (/metrics).
    assert [rule["ports"] for rule in api["ingress"]] == [[{"port": 8000, "protocol": "TCP"}]] * 2
    assert [rule["from"][0]["namespaceSelector"]["matchLabels"] for rule in api["ingress"]] == [
        {"kubernetes.io/metadata.name": "ingress-nginx"},
        {"kubernetes.io/metadata.name": "monitoring"},
    ]
    worker = find(manifests, "NetworkPolicy", "kgtwin-worker")["spec"]
    assert [rule["ports"] for rule in worker["ingress"]] == [[{"port": 8001, "protocol": "TCP"}]]
    egress_ports = {p["port"] for rule in api["egress"] for p in rule.get("ports", [])}
    assert {53, 7687, 8086, 1883} <= egress_ports


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("mode=cluster", "mode"),
        ("api.replicas=two", "replicas"),
        ("settings.graph_url=neo4j://x", "settings"),
        ("backends.graphUrl=falkordb:///data", "graphUrl"),
        ("ingest.sharedGroup=a/b", "sharedGroup"),
        ("api.resources.request.cpu=1", "resources"),
    ],
)
def test_values_schema_refuses_what_kgtwin_cannot_run(helm: Path, override: str, message: str) -> None:
    result = run_helm(
        helm, "template", "kgtwin", str(CHART), "-f", str(values_file("minimal")), "--set", override
    )
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_microservices_without_backends_fail_with_the_fix(helm: Path) -> None:
    result = run_helm(helm, "template", "kgtwin", str(CHART))
    assert result.returncode != 0
    assert re.search(r"backends\.\w+Url is required in mode microservices", result.stderr), result.stderr
