"""The names the SLA core and the services import from `shared.policy.model`, from before the
model was split into the document (`schema`), the checks between its sections (`references`)
and the compiled policy the loader builds (`compiled`). New code imports from `shared.policy`.
"""

from shared.policy import METRICS, EscalationSpec, MetricName, Policy, Target, plan_name

__all__ = ["METRICS", "EscalationSpec", "MetricName", "Policy", "Target", "plan_name"]
