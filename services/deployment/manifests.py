"""The generated part of `deploy/k8s/base/`: a Strimzi `KafkaTopic` for every topic (with its
partition count from `shared/topics.py`), a `KafkaUser` per service with ACLs from
`access.py`, KEDA `ScaledObject`s + `TriggerAuthentication`s for the lag-scaled consumers,
and the policies ConfigMap from `policies/*.yaml`. Pure functions returning documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.deployment.access import ACCESS, Access
from services.deployment.dashboards import dashboards_yaml
from services.deployment.header import HEADER
from services.deployment.monitoring import SERVICES, prometheus_rule, service_monitor
from shared.policy import policy_dir
from shared.topics import Topic, topics_with_dead_letters

KAFKA_CLUSTER = "ticketflow"
BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:9093"
CLUSTER_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"
DAY_MS = 24 * 3600 * 1000
PARTITIONS: dict[str, int] = {topic.name: topic.partitions for topic in topics_with_dead_letters()}


def resource_name(topic: str) -> str:
    return topic.replace(".", "-")


def kafka_topic(topic: Topic) -> dict[str, Any]:
    config: dict[str, Any] = {"min.insync.replicas": 2}
    if topic.compacted:
        config["cleanup.policy"] = "compact"
    else:
        config["retention.ms"] = topic.retention_days * DAY_MS
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": resource_name(topic.name),
            "labels": {"strimzi.io/cluster": KAFKA_CLUSTER},
            "annotations": {"ticketflow.dev/description": topic.description},
        },
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": 3,
            "config": config,
        },
    }


def _acl(kind: str, name: str, operations: list[str], pattern: str = "literal") -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": operations,
    }


def kafka_user(access: Access) -> dict[str, Any]:
    acls = [_acl("topic", topic, ["Read", "Describe"]) for topic in access.reads]
    acls += [_acl("topic", topic, ["Write", "Describe"]) for topic in access.writes]
    for group in (access.group, *access.other_groups):
        acls.append(_acl("group", group, ["Read"]))
    for prefix in access.prefixes:
        acls.append(_acl("topic", prefix, ["All"], "prefix"))
        acls.append(_acl("group", prefix, ["Read"], "prefix"))
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {"name": access.user, "labels": {"strimzi.io/cluster": KAFKA_CLUSTER}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def trigger_authentication(access: Access) -> dict[str, Any]:
    """KEDA reads the lag as the service's own Kafka user: the name from the Deployment's
    environment, the password from the Secret Strimzi made for the user, the cluster CA."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": f"{access.user}-kafka"},
        "spec": {
            "env": [
                {"parameter": "username", "name": "KAFKA_SASL_USERNAME", "containerName": "app"}
            ],
            "secretTargetRef": [
                {"parameter": "password", "name": access.user, "key": "password"},
                {"parameter": "ca", "name": CLUSTER_CA_SECRET, "key": "ca.crt"},
            ],
        },
    }


def scaled_object(access: Access) -> dict[str, Any]:
    """Scale on the consumer group's lag, never beyond the partitions that share the work."""
    metadata: dict[str, Any] = {
        "bootstrapServers": BOOTSTRAP,
        "consumerGroup": access.group,
        "lagThreshold": "500",
        "offsetResetPolicy": "earliest",
        "allowIdleConsumers": "false",
        "sasl": "scram_sha512",
        "tls": "enable",
    }
    if len(access.lag_topics) == 1:
        metadata["topic"] = access.lag_topics[0]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": access.user},
        "spec": {
            "scaleTargetRef": {"name": access.user},
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": 1,
            "maxReplicaCount": max(PARTITIONS[topic] for topic in access.lag_topics),
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": metadata,
                    "authenticationRef": {"name": f"{access.user}-kafka"},
                }
            ],
        },
    }


def policies_config_map(folder: Path | None = None) -> dict[str, Any]:
    folder = folder or policy_dir()
    data = {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.yaml"))}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ticketflow-policies"},
        "data": data,
    }


def _dump(documents: list[dict[str, Any]]) -> str:
    return HEADER + yaml.safe_dump_all(documents, sort_keys=False, width=100)


def generated() -> dict[str, str]:
    """File name (under deploy/k8s/base/generated/) -> content."""
    return {
        "kafka-topics.yaml": _dump([kafka_topic(topic) for topic in topics_with_dead_letters()]),
        "kafka-users.yaml": _dump([kafka_user(access) for access in ACCESS]),
        "keda.yaml": _dump(
            [
                document
                for access in ACCESS
                if access.lag_scaled
                for document in (trigger_authentication(access), scaled_object(access))
            ]
        ),
        "policies.yaml": _dump([policies_config_map()]),
        "service-monitors.yaml": _dump([service_monitor(service) for service in SERVICES]),
        "prometheus-rules.yaml": _dump([prometheus_rule()]),
        "dashboards.yaml": dashboards_yaml(),
    }
