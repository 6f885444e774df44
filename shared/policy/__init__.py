"""Support policies as code: pydantic models of `policies/*.yaml` and their loader."""

from shared.policy.loader import (
    PolicyError,
    load_policies,
    load_policy_file,
    policies_by_ref,
    policy_dir,
)
from shared.policy.model import METRICS, Policy, Target

__all__ = [
    "policies_by_ref",
    "METRICS",
    "Policy",
    "PolicyError",
    "Target",
    "load_policies",
    "load_policy_file",
    "policy_dir",
]
