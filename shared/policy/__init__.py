"""Support policies as code: pydantic models of `policies/*.yaml` and their loader."""

from shared.policy.loader import PolicyError, load_policies, load_policy_file, policy_dir
from shared.policy.model import METRICS, Policy, Target

__all__ = [
    "METRICS",
    "Policy",
    "PolicyError",
    "Target",
    "load_policies",
    "load_policy_file",
    "policy_dir",
]
