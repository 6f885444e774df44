"""Support policies as code: the YAML document's schema, the checks between its sections, and
the compiled `Policy` the loader builds from each `policies/*.yaml`."""

from shared.policy.compiled import Policy, Target
from shared.policy.loader import (
    PolicyError,
    compile_policy,
    load_policies,
    load_policy_file,
    policies_by_ref,
    policy_dir,
)
from shared.policy.schema import (
    METRICS,
    NO_PLAN,
    EscalationSpec,
    MetricName,
    PolicyDocument,
    plan_name,
)

__all__ = [
    "METRICS",
    "NO_PLAN",
    "EscalationSpec",
    "MetricName",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "Target",
    "compile_policy",
    "load_policies",
    "load_policy_file",
    "plan_name",
    "policies_by_ref",
    "policy_dir",
]
