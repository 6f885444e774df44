"""`ticketflow deploy ...`: the generated Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Kubernetes manifests (deploy/k8s/).")
GENERATED = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "generated"


@app.command()
def generate(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the checked-in files differ; write nothing.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Directory to write.")] = GENERATED,
) -> None:
    """Write the KafkaTopics (from shared/topics.py), KafkaUsers with ACLs and KEDA scaling
    (from services/deployment/access.py) and the policies ConfigMap (from policies/) into
    deploy/k8s/base/generated/."""
    from services.deployment.manifests import generated

    stale = []
    for name, content in generated().items():
        target = out / name
        if target.exists() and target.read_text() == content:
            continue
        stale.append(name)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    if check and stale:
        typer.echo(f"stale: {', '.join(stale)}; run `ticketflow deploy generate`", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"{'checked' if check else 'wrote'} {len(generated())} files in {out}"
        + (f" ({len(stale)} changed)" if stale and not check else "")
    )
