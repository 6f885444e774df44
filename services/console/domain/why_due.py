"""Why a deadline falls where it does: the business-time arithmetic behind a due time, spelled
out for the ticket page ("2 h of business time from Fri 19:30 EST: 30 min Friday from 19:30,
cut-off, 1 h 30 min Monday from 09:00 → Mon 10:30 EST").

`walk_due` consumes the target through the calendar's open intervals exactly as
`BusinessCalendar.add` does, so the walk's last instant is the due time the SLA core computes;
`explain_due` renders the walk. Business hours are read in the calendar's zone; the start and
the due instant are also given in the viewer's zone when it reads differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from shared.calendar import BusinessCalendar, holidays_in_year, parse_zone
from shared.calendar.business import MINUTES_PER_DAY, SEARCH_DAYS

ZERO = timedelta(0)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ARROW = "→"
GROUP_MIN = 3


@dataclass(frozen=True, slots=True)
class Piece:
    """Business time consumed inside one open interval, [start, end)."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Gap:
    """Closed time the walk stepped over, with the holidays that kept it closed (date, name)."""

    start: datetime
    end: datetime
    holidays: tuple[tuple[date, str], ...] = ()


Step = Piece | Gap


@dataclass(frozen=True, slots=True)
class DueWalk:
    """The target consumed from `start`, step by step; `due` is where the last piece ends."""

    start: datetime
    target: timedelta
    steps: tuple[Step, ...]
    due: datetime

    @property
    def pieces(self) -> tuple[Piece, ...]:
        return tuple(step for step in self.steps if isinstance(step, Piece))


def as_zone(zone: str | tzinfo) -> tzinfo:
    """A zone as policies and viewers name it (`America/New_York`, `GMT+2`), or a tzinfo."""
    return parse_zone(zone) if isinstance(zone, str) else zone


def walk_due(start: datetime, target: timedelta, calendar: BusinessCalendar) -> DueWalk:
    """The pieces of business time `target` takes from `start` (the loop of
    `BusinessCalendar.add`, recording what it consumes and skips)."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"naive datetime {start!r}: business time needs an aware instant")
    if target < ZERO:
        raise ValueError("business durations are not negative")
    if target == ZERO or calendar.always:
        steps: tuple[Step, ...] = (Piece(start, start + target),) if target > ZERO else ()
        return DueWalk(start, target, steps, start + target)
    walked: list[Step] = []
    remaining = target
    cursor = start
    day = start.astimezone(calendar.zone).toordinal()
    for offset in range(SEARCH_DAYS * 10):
        for opens, closes in calendar.intervals(day + offset):
            if closes <= cursor:
                continue
            if opens > cursor:
                walked.append(Gap(cursor, opens, skipped_holidays(calendar, cursor, opens)))
                cursor = opens
            available = closes - cursor
            if remaining <= available:
                walked.append(Piece(cursor, cursor + remaining))
                return DueWalk(start, target, tuple(walked), cursor + remaining)
            walked.append(Piece(cursor, closes))
            remaining -= available
            cursor = closes
    raise ValueError(f"calendar {calendar.name!r}: {target} does not fit in the search window")


def skipped_holidays(
    calendar: BusinessCalendar, after: datetime, before: datetime
) -> tuple[tuple[date, str], ...]:
    """The holidays whose usual business hours would have been open between `after` and
    `before` (a holiday on a day the calendar is closed anyway is not named)."""
    zone = calendar.zone
    first = after.astimezone(zone).date()
    last = before.astimezone(zone).date()
    names: dict[date, list[str]] = {}
    for year in range(first.year, last.year + 1):
        for name, day in holidays_in_year(calendar.holidays, year).items():
            names.setdefault(day, []).append(name)
    found: list[tuple[date, str]] = []
    day = first
    while day <= last:
        if day in names and _usual_hours_meet(calendar, day, after, before):
            found.append((day, " and ".join(names[day])))
        day += timedelta(days=1)
    return tuple(found)


def _usual_hours_meet(
    calendar: BusinessCalendar, day: date, after: datetime, before: datetime
) -> bool:
    for start, end in calendar.weekly.days[day.weekday()]:
        opens = _local(day, start, calendar.zone)
        closes = _local(day, end, calendar.zone)
        if opens < before and closes > after:
            return True
    return False


def _local(day: date, minute: int, zone: tzinfo) -> datetime:
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)


# --- words -----------------------------------------------------------------------------------


def spell_duration(duration: timedelta) -> str:
    """`1 h 30 min`, `45 min`, `2 h 0 min 5 s` reads `2 h 5 s`; whole seconds, rounded down."""
    total = int(duration.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if seconds:
        parts.append(f"{seconds} s")
    if parts:
        return " ".join(parts)
    return "0 min" if duration == ZERO else "under 1 s"


def clock_time(local: datetime) -> str:
    """`09:00`, or `09:00:15` when the instant has seconds."""
    if local.second or local.microsecond:
        return f"{local:%H:%M:%S}"
    return f"{local:%H:%M}"


def day_name(day: date, *, with_date: bool, short: bool) -> str:
    """`Monday`/`Mon`, or `Mon 2 Mar` with the date (English names, whatever the locale)."""
    name = WEEKDAYS[day.weekday()]
    if with_date:
        return f"{name[:3]} {day.day} {MONTHS[day.month - 1]}"
    return name[:3] if short else name


def zone_abbreviation(local: datetime) -> str:
    return local.tzname() or str(local.tzinfo)


def instant_label(instant: datetime, zone: tzinfo, *, with_date: bool) -> str:
    """`Fri 19:30 EST`, or `Fri 6 Mar 19:30 EST` with the date."""
    local = instant.astimezone(zone)
    day = day_name(local.date(), with_date=with_date, short=True)
    return f"{day} {clock_time(local)} {zone_abbreviation(local)}"


def dual_label(instant: datetime, zone: tzinfo, viewer: tzinfo | None, *, with_date: bool) -> str:
    """The instant in `zone`, and in the viewer's zone after it when that reads differently."""
    main = instant_label(instant, zone, with_date=with_date)
    if viewer is None:
        return main
    other = instant_label(instant, viewer, with_date=with_date)
    return main if other == main else f"{main} ({other})"


def explain_due(
    start: datetime,
    target_seconds: float | timedelta,
    calendar: BusinessCalendar,
    tz: str | tzinfo,
) -> str:
    """One line spelling out how `target_seconds` of business time from `start` lands on the
    due time, which is `calendar.add(start, target)`. `tz` is the viewer's zone."""
    target = (
        target_seconds
        if isinstance(target_seconds, timedelta)
        else timedelta(seconds=target_seconds)
    )
    return render_walk(walk_due(start, target, calendar), calendar, as_zone(tz))


def render_walk(walk: DueWalk, calendar: BusinessCalendar, viewer: tzinfo) -> str:
    if calendar.always:
        span = (walk.due.astimezone(viewer).date() - walk.start.astimezone(viewer).date()).days
        with_date = span >= 7
        start = instant_label(walk.start, viewer, with_date=with_date)
        due = instant_label(walk.due, viewer, with_date=with_date)
        return (
            f"{spell_duration(walk.target)} around the clock ({calendar.name}) "
            f"from {start} {ARROW} {due}"
        )
    zone = calendar.zone
    span = (walk.due.astimezone(zone).date() - walk.start.astimezone(zone).date()).days
    # Weekday names alone are unambiguous while no weekday repeats.
    with_date = span >= 7
    head = (
        f"{spell_duration(walk.target)} of business time from "
        f"{dual_label(walk.start, zone, viewer, with_date=with_date)}"
    )
    parts = _phrases(walk.steps, zone, with_date)
    due = dual_label(walk.due, zone, viewer, with_date=with_date)
    if not parts:
        return f"{head} {ARROW} {due}"
    return f"{head}: {', '.join(parts)} {ARROW} {due}"


def _phrases(steps: tuple[Step, ...], zone: tzinfo, with_date: bool) -> list[str]:
    """One phrase per step, except that `GROUP_MIN` or more like pieces in a row (same length,
    same opening time, only ordinary closed time between them) read as one."""
    phrases = []
    index = 0
    while index < len(steps):
        step = steps[index]
        if isinstance(step, Gap):
            phrases.append(_gap_words(step, first=index == 0))
            index += 1
            continue
        alike = _alike_pieces(steps, index, zone)
        if len(alike) >= GROUP_MIN:
            first = alike[0].start.astimezone(zone)
            last = alike[-1].start.astimezone(zone)
            phrases.append(
                f"{spell_duration(step.duration)} from {clock_time(first)} on each of "
                f"{len(alike)} days, {day_name(first.date(), with_date=with_date, short=False)}"
                f" to {day_name(last.date(), with_date=with_date, short=False)}"
            )
            index += 2 * len(alike) - 1
            continue
        local = step.start.astimezone(zone)
        day = day_name(local.date(), with_date=with_date, short=False)
        phrases.append(f"{spell_duration(step.duration)} {day} from {clock_time(local)}")
        index += 1
    return phrases


def _alike_pieces(steps: tuple[Step, ...], index: int, zone: tzinfo) -> list[Piece]:
    first = steps[index]
    assert isinstance(first, Piece)
    opening = first.start.astimezone(zone).time()
    alike = [first]
    while index + 2 < len(steps):
        gap, piece = steps[index + 1], steps[index + 2]
        if not (isinstance(gap, Gap) and not gap.holidays and isinstance(piece, Piece)):
            break
        if piece.duration != first.duration or piece.start.astimezone(zone).time() != opening:
            break
        alike.append(piece)
        index += 2
    return alike


def _gap_words(step: Gap, *, first: bool) -> str:
    words = "closed" if first else "cut-off"
    if step.holidays:
        named = " and ".join(
            f"{day_name(day, with_date=True, short=True)} ({name})" for day, name in step.holidays
        )
        words = f"{words}, skipping {named}"
    return words
