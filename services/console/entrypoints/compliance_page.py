"""The *Compliance* page and `GET /v1/reports/compliance`: a month's met % per policy,
priority and metric, the time to first response at p50 and p90, and the breaches, from the
console's own copy of the ticket events.

The JSON and CSV the API returns are byte for byte what `ticketflow report compliance
--month` prints from intake's event store (for the admin token, who sees every account),
once the console has caught up with the topic."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from services.console.domain.compliance import (
    MONTH,
    breaches_to_csv,
    to_csv,
    to_json,
)
from services.console.domain.compliance_chart import (
    met_words,
    metric_label,
    policy_charts,
    wait_words,
)
from services.console.entrypoints.pages import (
    FILTER_VALUE,
    TEMPLATES,
    ApiViewer,
    ConsoleApiDeps,
    Deps,
    PageViewer,
    csrf_of,
    html_page,
    with_csrf,
    zone_choice,
)
from services.console.entrypoints.views import local
from services.console.service_layer.compliance import monthly_compliance

routes = APIRouter()

MonthQuery = Annotated[
    str | None,
    Query(pattern=MONTH.pattern, description="YYYY-MM, a UTC month; default: the current one"),
]


def _month(deps: ConsoleApiDeps, month: str | None) -> str:
    if month is not None:
        return month
    now = deps.now().astimezone(UTC)
    return f"{now.year:04d}-{now.month:02d}"


@routes.get("/compliance", response_class=HTMLResponse, include_in_schema=False)
async def compliance_page(
    request: Request,
    deps: Deps,
    viewer: PageViewer,
    month: Annotated[str | None, FILTER_VALUE] = None,
    tz: Annotated[str | None, FILTER_VALUE] = None,
) -> Response:
    """A month's compliance of the viewer's accounts: charts, the table, the breaches."""
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    zone_name, zone = zone_choice(request, tz)
    token, new = csrf_of(deps, request)
    bad_month = bool(month) and MONTH.fullmatch(month or "") is None
    chosen = _month(deps, None if bad_month or not month else month)
    found = await monthly_compliance(deps.model, deps.policies, viewer.accounts, chosen, deps.now())
    report = found.report
    body = TEMPLATES.get_template("compliance.html.j2").render(
        month=chosen,
        bad_month=bad_month,
        as_of=local(found.as_of, zone),
        zone=zone_name,
        charts=[
            {
                "policy": charts.policy,
                "met": Markup(charts.met),
                "first_response": Markup(charts.first_response) if charts.first_response else None,
            }
            for charts in policy_charts(report)
        ],
        rows=[
            {
                "row": row,
                "metric": metric_label(row.metric),
                "met": met_words(row),
                "p50": wait_words(row.first_response_p50_seconds),
                "p90": wait_words(row.first_response_p90_seconds),
            }
            for row in report.rows
        ],
        breaches=[
            {
                "breach": breach,
                "metric": metric_label(breach.metric),
                "due": local(breach.due_at, zone),
                "breached": local(breach.breached_at, zone),
                "met": local(breach.met_at, zone),
            }
            for breach in report.breaches
        ],
        skipped=sorted(found.skipped.items()),
        incomplete=found.incomplete,
        admin=viewer.admin,
        csrf=token,
        nav="compliance",
    )
    return with_csrf(deps, html_page(body), token, new)


@routes.get(
    "/v1/reports/compliance",
    summary="A month's SLA compliance",
    responses={
        200: {
            "description": "The report: rows per policy, priority and metric, and the "
            "breaches (JSON), or the rows or the breaches as CSV",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        401: {"description": "Not signed in and no API key"},
    },
)
async def compliance_report(
    deps: Deps,
    viewer: ApiViewer,
    month: MonthQuery = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: one row per policy, priority and metric")
    ] = "json",
    breaches: Annotated[
        bool, Query(description="With format=csv: one row per breach instead")
    ] = False,
) -> Response:
    """The month's compliance over the tickets of the key's accounts, replayed through the
    SLA core as of the month's end (or now, if earlier): per policy, priority and metric
    the clocks whose deadline fell in the month, met, breached and running, the met %
    (met / (met + breached), one decimal, half up), p50/p90 seconds from opening to first
    response, and every breach. The same bytes as `ticketflow report compliance --month`
    (with `--csv`, `--csv --breaches`) over the same tickets."""
    chosen = _month(deps, month)
    found = await monthly_compliance(deps.model, deps.policies, viewer.accounts, chosen, deps.now())
    headers = {"X-Clocks-As-Of": found.as_of.astimezone(UTC).isoformat()}
    if format == "csv":
        kind = "breaches" if breaches else "compliance"
        headers["Content-Disposition"] = f'attachment; filename="{kind}-{chosen}.csv"'
        text = breaches_to_csv(found.report) if breaches else to_csv(found.report)
        return Response(text, media_type="text/csv", headers=headers)
    return Response(to_json(found.report), media_type="application/json", headers=headers)
