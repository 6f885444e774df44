"""`ticketflow policy ...`"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from shared.policy import Policy, PolicyError, load_policies, load_policy_file, policy_dir

app = typer.Typer(help="Support policies as code: validate and inspect policies/*.yaml.")


def load_one(name: str) -> Policy:
    """A policy by id (from the policy directory) or by YAML path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_policy_file(path)
    policies = load_policies()
    if name not in policies:
        raise PolicyError(
            f"no policy {name!r} in {policy_dir()} (have: {', '.join(sorted(policies))})"
        )
    return policies[name]


@app.command()
def validate(
    target: Annotated[Path, typer.Argument(help="A policy YAML file, or a folder of them.")],
) -> None:
    """Check policy files; print each problem as FILE: FIELD.PATH: REASON. Exit 1 if any."""
    try:
        if target.is_dir():
            policies = list(load_policies(target).values())
        else:
            policies = [load_policy_file(target)]
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    for policy in policies:
        typer.echo(f"ok  {policy.ref}  {policy.name}  ({len(policy.metrics)} metrics)")


@app.command()
def show(
    policy_id: Annotated[str, typer.Argument(help="Policy id, e.g. voipster, or a YAML file.")],
) -> None:
    """Print a policy, as validated, as JSON (calendars, targets, intake rules, charges)."""
    try:
        policy = load_one(policy_id)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(orjson.dumps(policy.summary(), option=orjson.OPT_INDENT_2).decode())
