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


PROD = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "overlays" / "prod"


@app.command("set-image")
def set_image(
    digest: Annotated[
        str,
        typer.Option(
            help="The pushed image's digest, sha256:<64 hex> (e.g. from `docker buildx build "
            "--push --metadata-file` or `crane digest`)."
        ),
    ],
    tag: Annotated[
        str | None, typer.Option(help="The release tag, kept beside the digest for people.")
    ] = None,
    overlay: Annotated[
        Path, typer.Option(help="The overlay whose kustomization.yaml to edit.")
    ] = PROD,
) -> None:
    """Pin the overlay's image to a released digest (and tag): rewrites `newTag:` and
    `digest:` of the `ticketflow` entry under `images:`, keeping every other line. The
    kubelet then pulls exactly that image: `ghcr.io/ticketflow/ticketflow:TAG@DIGEST`."""
    from services.deployment.images import ImagePinError
    from services.deployment.images import set_image as pin

    path = overlay / "kustomization.yaml"
    try:
        text = pin(path.read_text(), digest=digest, tag=tag)
    except (OSError, ImagePinError) as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(1) from None
    path.write_text(text)
    typer.echo(f"pinned {path}: {tag + '@' if tag else ''}{digest}")
