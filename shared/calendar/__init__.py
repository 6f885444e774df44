"""Business calendars: weekly hours in a time zone, holiday rules, DST-correct arithmetic."""

from shared.calendar.business import ALWAYS, BusinessCalendar, WeeklyHours
from shared.calendar.holidays import (
    EasterRelative,
    FixedDate,
    HolidayRule,
    NthWeekday,
    RelativeToHoliday,
    holidays_in_year,
)
from shared.calendar.zones import month_of, parse_zone

__all__ = [
    "ALWAYS",
    "BusinessCalendar",
    "EasterRelative",
    "FixedDate",
    "HolidayRule",
    "NthWeekday",
    "RelativeToHoliday",
    "WeeklyHours",
    "holidays_in_year",
    "month_of",
    "parse_zone",
]
