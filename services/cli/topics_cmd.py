"""`ticketflow topics tail`: read the published topics as a downstream consumer should."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from shared.topics import ALL_TOPICS

app = typer.Typer(help="Read ticketflow's Kafka topics (the analytics consumer's view).")
PUBLIC = [topic.name for topic in ALL_TOPICS if not topic.internal]


@app.command()
def tail(
    topics: Annotated[
        list[str] | None,
        typer.Argument(help=f"Topics to read (default: every published one: {', '.join(PUBLIC)})"),
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the oldest record, not the newest")
    ] = False,
    idle_timeout: Annotated[
        float,
        typer.Option("--idle-timeout", min=0.1, help="Stop after this many seconds without one"),
    ] = 5.0,
    max_records: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many records")
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-servers", help="Kafka bootstrap (default: KAFKA_BOOTSTRAP_SERVERS)"
        ),
    ] = None,
) -> None:
    """Print each record once as a JSON line: `topic`, `partition`, `offset`, the CloudEvents
    `attributes`, and the `payload` at the current schema version.

    This is the consumer every analytics job should be: it checks the CloudEvents attributes
    (a record that breaks the contract is printed with a `violation`, and the exit code is 1),
    upcasts old ticket-event versions, and skips a record whose `ce_id` it has already seen
    (delivery is at least once; a record published again keeps its id). It joins no consumer
    group and commits nothing. Source: services/common/topic_reader.py.
    """
    from services.common.kafka_security import kafka_kwargs
    from services.common.topic_reader import dumps
    from services.common.topic_reader import tail as read

    servers = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        typer.echo("error: --bootstrap-servers or KAFKA_BOOTSTRAP_SERVERS is needed", err=True)
        raise typer.Exit(2)
    chosen = topics or PUBLIC
    unknown = sorted(set(chosen) - set(PUBLIC))
    if unknown:
        typer.echo(f"error: not a published topic: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)

    async def run() -> int:
        violations = 0
        async for record in read(
            servers,
            chosen,
            from_beginning=from_beginning,
            idle_timeout_s=idle_timeout,
            max_records=max_records,
            client_kwargs=kafka_kwargs(),
        ):
            violations += "violation" in record
            sys.stdout.write(dumps(record) + "\n")
        return violations

    if asyncio.run(run()):
        raise typer.Exit(1)
