"""`ticketflow schemas ...`"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Published contracts: JSON Schemas per event type and the AsyncAPI document."
)


@app.command()
def write() -> None:
    """Regenerate shared/events/contracts/ from the pydantic models."""
    from shared.events.contracts import CONTRACTS_DIR
    from shared.events.contracts import write as write_contracts

    changed = write_contracts()
    typer.echo(f"{len(changed)} file(s) updated in {CONTRACTS_DIR}")
    for path in changed:
        typer.echo(f"  {path}")


@app.command()
def check() -> None:
    """Exit 1 if the checked-in contracts differ from the models."""
    from shared.events.contracts import stale

    outdated = stale()
    if outdated:
        typer.echo("out of date (run `ticketflow schemas write`): " + ", ".join(outdated), err=True)
        raise typer.Exit(1)
    typer.echo("contracts match the models")
