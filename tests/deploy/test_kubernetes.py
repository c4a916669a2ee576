"""The Kubernetes manifests: schema validation offline, and the properties the runner relies on.

Every manifest in deploy/kubernetes is validated with kubernetes-validate against schemas that
ship inside the package (no network), in strict mode (unknown fields are errors), for the
oldest and newest Kubernetes versions the project supports. The KEDA ScaledObject is a custom
resource with no bundled schema, so its structure is checked here instead. The runner's
ConfigMap is loaded through the runner's own configuration loader, exactly as the pod would.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from flomation.runner.config import RunnerConfig, load_config
from flomation.server.admin_client import AdminClient
from flomation.server.config import ServerSettings
from flomation.server.embedded import running_server

_REPO = Path(__file__).resolve().parents[2]
_MANIFESTS = _REPO / "deploy" / "kubernetes"
_VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"
# Both bundled with kubernetes-validate (offline); the oldest and newest versions we target.
_KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
_CRD_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("postgresql.cnpg.io/v1", "Cluster")}
# Time the runner needs after the kill grace to write results to the outbox and flush it.
_FLUSH_MARGIN_S = 5.0
_HEALTH_PORT = 9310
# The series the KEDA trigger selects: METRIC{queue="NAME"}.
_QUERY_SELECTOR = r'(?P<metric>[a-z_]+)\{queue="(?P<queue>[^"]+)"\}'

_Doc = dict[str, Any]


def _documents() -> Iterator[tuple[Path, _Doc]]:
    for path in sorted(_MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                yield path, document


def _one(kind: str, name: str) -> _Doc:
    found = [doc for _, doc in _documents() if doc["kind"] == kind]
    found = [doc for doc in found if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name} in deploy/kubernetes, found {len(found)}"
    return found[0]


def _env(container: _Doc) -> dict[str, _Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.fixture(scope="module")
def statefulset() -> _Doc:
    return _one("StatefulSet", "flomation-runner")


@pytest.fixture(scope="module")
def runner_container(statefulset: _Doc) -> _Doc:
    containers = statefulset["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: _Doc = containers[0]
    return container


def _validate(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    versions = [arg for version in _KUBERNETES_VERSIONS for arg in ("-k", version)]
    return subprocess.run(
        [str(_VALIDATOR), "--strict", *versions, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_manifest_passes_kubernetes_validate_strict_offline() -> None:
    """kubernetes-validate --strict passes every built-in resource for each targeted version."""
    paths = sorted(_MANIFESTS.glob("*.yaml"))
    assert paths, "no manifests in deploy/kubernetes"
    result = _validate(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout, result.stdout
    builtin = [doc for _, doc in _documents() if (doc["apiVersion"], doc["kind"]) not in _CRD_KINDS]
    passed = [line for line in result.stdout.splitlines() if line.startswith("INFO ")]
    # Each built-in resource must really have been checked against a schema, not skipped.
    assert len(passed) == len(builtin) * len(_KUBERNETES_VERSIONS), result.stdout
    skipped = [line for line in result.stdout.splitlines() if line.startswith("WARN ")]
    assert all("ScaledObject" in line or "Cluster" in line for line in skipped), result.stdout


def test_validator_rejects_an_unknown_field(tmp_path: Path) -> None:
    """The strict offline validation is effective: a misspelt field in the StatefulSet fails."""
    broken = _one("StatefulSet", "flomation-runner")
    broken["spec"]["template"]["spec"]["terminationGracePeriodSecond"] = 45
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = _validate([path])
    assert result.returncode != 0
    assert "terminationGracePeriodSecond" in result.stdout


def test_statefulset_keeps_state_on_a_volume_claim_per_replica(
    statefulset: _Doc, runner_container: _Doc
) -> None:
    """Each replica's state directory (flo.state, key, outbox) is its own PersistentVolumeClaim."""
    claims = {
        claim["metadata"]["name"]: claim for claim in statefulset["spec"]["volumeClaimTemplates"]
    }
    assert "state" in claims
    mounts = {mount["name"]: mount["mountPath"] for mount in runner_container["volumeMounts"]}
    env = _env(runner_container)
    state_dir = env["FLOMATION_RUNNER_STATE_DIRECTORY"]["value"]
    assert mounts["state"] == state_dir
    key_path = Path(env["FLOMATION_RUNNER_CERTIFICATE_PATH"]["value"])
    assert key_path.parent == Path(state_dir), "the key must live on the state volume"
    retention = statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenScaled": "Retain", "whenDeleted": "Retain"}


def test_termination_grace_exceeds_the_drain_budget(
    statefulset: _Doc, runner_container: _Doc
) -> None:
    """terminationGracePeriodSeconds > drain timeout + kill grace + flush margin, both set."""
    env = _env(runner_container)
    drain_s = float(env["FLOMATION_RUNNER_DRAIN_TIMEOUT_S"]["value"])
    kill_grace_s = float(env["FLOMATION_RUNNER_KILL_GRACE_S"]["value"])
    grace_s = statefulset["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace_s > drain_s + kill_grace_s + _FLUSH_MARGIN_S


def test_probes_use_the_health_endpoints(runner_container: _Doc) -> None:
    """Readiness is /readyz and liveness /healthz on the port the health listener binds."""
    env = _env(runner_container)
    host, _, port = env["FLOMATION_RUNNER_HEALTH_ADDR"]["value"].rpartition(":")
    assert host == "0.0.0.0", "the kubelet probes the pod IP, so listen on every address"
    ports = {p["name"]: p["containerPort"] for p in runner_container["ports"]}
    assert ports["health"] == int(port) == _HEALTH_PORT
    readiness = runner_container["readinessProbe"]["httpGet"]
    liveness = runner_container["livenessProbe"]["httpGet"]
    assert (readiness["path"], readiness["port"]) == ("/readyz", "health")
    assert (liveness["path"], liveness["port"]) == ("/healthz", "health")


def test_registration_code_comes_from_the_secret(runner_container: _Doc) -> None:
    """The registration code is a secretKeyRef into the shipped Secret, never a literal."""
    reference = _env(runner_container)["FLOMATION_REGISTRATION_CODE"]
    assert "value" not in reference
    key_ref = reference["valueFrom"]["secretKeyRef"]
    secret = _one("Secret", key_ref["name"])
    assert key_ref["key"] in secret["stringData"]


def test_container_is_non_root_with_resources_and_the_config_map_mounted(
    statefulset: _Doc, runner_container: _Doc
) -> None:
    """Non-root, no privilege escalation, requests and limits, config.json at the upstream path."""
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert runner_container["securityContext"]["allowPrivilegeEscalation"] is False
    resources = runner_container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert {"cpu", "memory"} <= set(resources["limits"])
    config_mount = next(m for m in runner_container["volumeMounts"] if m["name"] == "config")
    assert config_mount["mountPath"] == "/usr/local/bin/config.json"
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    config_map = _one("ConfigMap", config_volume["configMap"]["name"])
    assert config_mount["subPath"] in config_map["data"]


def test_pod_disruption_budget_selects_the_runners(statefulset: _Doc) -> None:
    """The PodDisruptionBudget covers exactly the StatefulSet's pods and allows one eviction."""
    budget = _one("PodDisruptionBudget", "flomation-runner")
    assert budget["spec"]["selector"] == statefulset["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_headless_service_governs_the_statefulset(statefulset: _Doc) -> None:
    """The StatefulSet's serviceName is a headless Service exposing the health port."""
    service = _one("Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in service["spec"]["ports"]] == [_HEALTH_PORT]


def test_keda_scaled_object_structure(statefulset: _Doc) -> None:
    """The KEDA example (a CRD, no bundled schema) targets the StatefulSet with a valid trigger.

    Checked by hand here because kubernetes-validate has no schema for keda.sh resources: the
    fields KEDA requires, their types, and the Prometheus query on the server's metric.
    """
    documents = list(
        yaml.safe_load_all((_MANIFESTS / "keda-scaledobject.yaml").read_text(encoding="utf-8"))
    )
    assert len(documents) == 1
    scaled = documents[0]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["kind"] == "ScaledObject"
    assert isinstance(scaled["metadata"]["name"], str)
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "StatefulSet",
        statefulset["metadata"]["name"],
    )
    assert isinstance(spec["minReplicaCount"], int)
    assert isinstance(spec["maxReplicaCount"], int)
    assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    assert len(spec["triggers"]) == 1
    trigger = spec["triggers"][0]
    assert trigger["type"] == "prometheus"
    metadata = trigger["metadata"]
    # KEDA reads trigger metadata as strings.
    assert all(isinstance(value, str) for value in metadata.values())
    assert metadata["serverAddress"].startswith(("http://", "https://"))
    assert re.search(_QUERY_SELECTOR, metadata["query"]), metadata["query"]
    assert float(metadata["threshold"]) > 0


def _keda_query() -> str:
    document = yaml.safe_load((_MANIFESTS / "keda-scaledobject.yaml").read_text(encoding="utf-8"))
    query: str = document["spec"]["triggers"][0]["metadata"]["query"]
    return query


async def test_keda_query_matches_what_the_server_exports(tmp_path: Path) -> None:
    """The metric and queue label the KEDA query selects are on the real server's /metrics.

    A real flomation-server (embedded, on 127.0.0.1) gets the query's queue and one pending
    execution; its /metrics must then hold that very series with a value of at least 1.
    """
    match = re.search(_QUERY_SELECTOR, _keda_query())
    assert match is not None
    metric, queue_name = match.group("metric"), match.group("queue")
    settings = ServerSettings(
        listen="127.0.0.1:0", database=f"sqlite:///{tmp_path / 'server.db'}", poll_hold_s=0.5
    )
    async with running_server(settings) as server:
        async with AdminClient(server.url, server.admin_token) as admin:
            queue = await admin.create_queue(queue_name)
            flo = await admin.create_flo("pending", {"nodes": [], "edges": []}, queue["id"])
            await admin.execute(flo["id"])
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/metrics") as r:
            assert r.status == 200
            exposition = await r.text()
    samples = {
        sample.labels.get("queue"): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == metric
    }
    assert samples.get(queue_name, 0) >= 1, f"{metric}{{queue={queue_name!r}}} not exported"


def test_server_deployment_is_exposed_on_its_listen_port() -> None:
    """The optional flomation-server Deployment listens where its Service and the runners point."""
    deployment = _one("Deployment", "flomation-server")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = _env(container)
    _, _, port = env["FLOMATION_SERVER_LISTEN"]["value"].rpartition(":")
    assert container["ports"][0]["containerPort"] == int(port)
    service = _one("Service", "flomation-server")
    assert service["spec"]["ports"][0]["port"] == int(port)
    assert "value" not in env["FLOMATION_SERVER_ADMIN_TOKEN"]
    config = json.loads(_one("ConfigMap", "flomation-runner-config")["data"]["config.json"])
    assert config["runner"]["url"] == f"http://{service['metadata']['name']}:{port}"


def test_config_map_is_accepted_by_the_runner_loader(
    tmp_path: Path, runner_container: _Doc
) -> None:
    """The ConfigMap's config.json, at the image's config path, plus the pod's env loads cleanly.

    The pod's literal environment is applied as the kubelet would (the Secret reference gets a
    placeholder value); only the directories are moved under tmp_path so nothing is created
    outside the test's directory.
    """
    config_file = tmp_path / "config.json"
    config_file.write_text(
        _one("ConfigMap", "flomation-runner-config")["data"]["config.json"], encoding="utf-8"
    )
    environ: dict[str, str] = {"PATH": str(Path(sys.executable).parent)}
    for name, entry in _env(runner_container).items():
        environ[name] = entry.get("value", f"value-of-{name.lower()}")
    environ["FLOMATION_RUNNER_STATE_DIRECTORY"] = str(tmp_path / "state")
    environ["FLOMATION_RUNNER_CERTIFICATE_PATH"] = str(tmp_path / "state" / "key.pem")
    environ["FLOMATION_RUNNER_EXECUTION_DIRECTORY"] = str(tmp_path / "workspace")

    config: RunnerConfig = load_config(
        argparse.Namespace(), environ, tmp_path, docker_config_path=config_file
    )

    assert config.drain_timeout_s == float(environ["FLOMATION_RUNNER_DRAIN_TIMEOUT_S"])
    assert config.kill_grace_s == float(environ["FLOMATION_RUNNER_KILL_GRACE_S"])
    assert config.health_addr == environ["FLOMATION_RUNNER_HEALTH_ADDR"]
    assert config.executable[0] == "flomation-executor"
    assert config.max_concurrent_executors == 5


def test_server_runs_two_replicas_on_the_postgresql_cluster() -> None:
    """Two server replicas, updated one at a time and kept available, get the database URL from
    the Secret CloudNativePG makes for the Cluster's application user, and share their secrets."""
    deployment = _one("Deployment", "flomation-server")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    container = spec["template"]["spec"]["containers"][0]
    env = _env(container)
    cluster = _one("Cluster", "flomation-db")
    database = env["FLOMATION_SERVER_DATABASE"]["valueFrom"]["secretKeyRef"]
    # CloudNativePG's Secret for the application user is "<cluster>-app", with the URL in "uri".
    assert database == {"name": f"{cluster['metadata']['name']}-app", "key": "uri"}
    for shared in ("FLOMATION_SERVER_ADMIN_TOKEN", "FLOMATION_SERVER_SECRET_KEY"):
        assert env[shared]["valueFrom"]["secretKeyRef"]["name"] == "flomation-server"
    assert "volumes" not in spec["template"]["spec"] or all(
        "persistentVolumeClaim" not in volume for volume in spec["template"]["spec"]["volumes"]
    ), "replicas are stateless: no volume claim"
    budget = _one("PodDisruptionBudget", "flomation-server")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_postgresql_cluster_structure() -> None:
    """The CloudNativePG Cluster (a CRD, no bundled schema) has the fields the operator requires:
    instances for failover, an initdb bootstrap of the application database, storage."""
    cluster = _one("Cluster", "flomation-db")
    spec = cluster["spec"]
    assert isinstance(spec["instances"], int) and spec["instances"] >= 2
    initdb = spec["bootstrap"]["initdb"]
    assert isinstance(initdb["database"], str) and isinstance(initdb["owner"], str)
    assert re.fullmatch(r"\d+(Gi|Mi)", spec["storage"]["size"])
    assert spec["imageName"].split(":")[-1].split(".")[0] >= "13"
