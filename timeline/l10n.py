"""Dates, times and numbers in a reader's language, from CLDR data (Babel), never strftime."""

import copy
import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Final

from babel import Locale
from babel.dates import (
    PATTERN_CHAR_ORDER,
    DateTimeFormat,
    get_day_names,
    get_month_names,
    match_skeleton,
)
from babel.dates import tokenize_pattern as _tokenize
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_name,
)
from django.utils import translation

from . import languages

# CLDR locale per language. English is written for readers anywhere: en_150 reads
# day-month-year on a 24-hour clock, as Kazakhstan, Russia and this site always have,
# where plain en (United States) puts the month first and uses a 12-hour clock.
LOCALES: Final = {languages.KAZAKH: "kk", languages.RUSSIAN: "ru", languages.ENGLISH: "en_150"}


@dataclass(frozen=True)
class Style:
    """The CLDR skeletons a language's dates are written with."""

    day: str
    day_with_weekday: str
    quarter: str
    months: str


# Russian and Kazakh abbreviations ("нояб.", "қар.", "IV тқс.") read as clipped, so those
# languages spell months, weekdays and quarters out; English keeps "11 Nov 2025", "Q1 2026"
# and "Jan – Sept 2025".
SPELLED_OUT: Final = Style(
    day="yMMMMd", day_with_weekday="yMMMMEEEEd", quarter="yQQQQ", months="yMMMM"
)
STYLES: Final = {
    languages.KAZAKH: SPELLED_OUT,
    languages.RUSSIAN: SPELLED_OUT,
    languages.ENGLISH: Style(day="yMMMd", day_with_weekday="yMMMEd", quarter="yQQQ", months="yMMM"),
}
MONTH, YEAR = "yMMMM", "y"
# The same field under another letter, for matching a pattern's widths to a skeleton's.
_SAME_FIELD: Final = {"L": "M", "c": "E", "e": "E"}


def language_or_active(language: str | None = None) -> str:
    """Return *language*, else Django's active language, else the default, as one of ours."""
    return (
        languages.supported(language)
        or languages.supported(translation.get_language())
        or languages.DEFAULT
    )


@cache
def locale(language: str) -> Locale:
    """Return the CLDR locale one of our languages is formatted with."""
    return Locale.parse(LOCALES[language])


def date(day: dt.date, language: str | None = None) -> str:
    """Return a day, e.g. '11 Nov 2025', '11 ноября 2025 г.', '2025 ж. 11 қараша'."""
    code = language_or_active(language)
    return _format(day, STYLES[code].day, locale(code))


def days(first: dt.date, last: dt.date, language: str | None = None) -> str:
    """Return a range of days, e.g. '11–12 Nov 2025', '11—12 ноября 2025 г.'."""
    code = language_or_active(language)
    return _interval(first, last, STYLES[code].day, locale(code))


def month(day: dt.date, language: str | None = None) -> str:
    """Return the month and year of *day*, e.g. 'November 2026', 'ноябрь 2026 г.'."""
    return _format(day, MONTH, locale(language_or_active(language)))


def month_name(day: dt.date, language: str | None = None) -> str:
    """Return the month of *day* as a heading over its days, e.g. 'November', 'Ноябрь'."""
    names = get_month_names("wide", "stand-alone", locale(language_or_active(language)))
    name = str(names[day.month])
    # CLDR capitalises a month name standing alone, as in a menu or heading, in Russian (its
    # context transforms, which Babel does not ship); Kazakh and English data are capitalised.
    return name[:1].upper() + name[1:]


def weekday(index: int, language: str | None = None) -> str:
    """Return a weekday's name standing alone (Monday is 0), e.g. 'Monday', 'Понедельник'."""
    names = get_day_names("wide", "stand-alone", locale(language_or_active(language)))
    name = str(names[index])
    return name[:1].upper() + name[1:]  # as month_name: Russian data is lower case


def quarter(day: dt.date, language: str | None = None) -> str:
    """Return the quarter and year of *day*, e.g. 'Q1 2026', '1-й квартал 2026 г.'."""
    code = language_or_active(language)
    return _format(day, STYLES[code].quarter, locale(code))


def year(day: dt.date, language: str | None = None) -> str:
    """Return the year of *day*, e.g. '2026'."""
    return _format(day, YEAR, locale(language_or_active(language)))


def months(first: dt.date, last: dt.date, language: str | None = None) -> str:
    """Return the months from *first*'s to *last*'s, e.g. 'Jan – Sept 2025', 'январь — сентябрь
    2025 г.'; one month reads as `month` does."""
    if (first.year, first.month) == (last.year, last.month):
        return month(first, language)
    code = language_or_active(language)
    return _interval(first.replace(day=1), last.replace(day=1), STYLES[code].months, locale(code))


def quarters(first: dt.date, last: dt.date, language: str | None = None) -> str:
    """Return the quarters from *first*'s to *last*'s, e.g. 'Q1 2025 – Q3 2025'; one quarter
    reads as `quarter` does."""
    if (first.year, (first.month - 1) // 3) == (last.year, (last.month - 1) // 3):
        return quarter(first, language)
    code = language_or_active(language)
    return _interval(first, last, STYLES[code].quarter, locale(code))


def years(first: dt.date, last: dt.date, language: str | None = None) -> str:
    """Return the years from *first*'s to *last*'s, e.g. '2020–2024'; one year reads as `year`."""
    if first.year == last.year:
        return year(first, language)
    code = language_or_active(language)
    return _interval(dt.date(first.year, 1, 1), dt.date(last.year, 1, 1), YEAR, locale(code))


def wall_time(
    day: dt.date,
    start: dt.time,
    end: dt.time | None = None,
    end_day: dt.date | None = None,
    language: str | None = None,
) -> str:
    """Return a day at a wall-clock time, or a range of times, e.g. '12 Nov 2025, 10:00–12:30'."""
    code = language_or_active(language)
    where, skeleton = locale(code), STYLES[code].day
    begins = dt.datetime.combine(day, start)
    if end is None:
        return _date_and_time(begins, skeleton, where)
    ends = dt.datetime.combine(end_day or day, end)
    if ends.date() == begins.date():
        times = _interval(begins, ends, _time_skeleton(where), where)
        return _combine(_format(day, skeleton, where), times, skeleton, where)
    return _fallback(
        _date_and_time(begins, skeleton, where), _date_and_time(ends, skeleton, where), where
    )


def moment(at: dt.datetime, zone_name: str, language: str | None = None) -> str:
    """Return an instant as the clock in a zone shows it, e.g. 'Wed, 12 Nov 2025, 10:00'."""
    code = language_or_active(language)
    local = at.astimezone(zoneinfo.ZoneInfo(zone_name)).replace(tzinfo=None)
    return _date_and_time(local, STYLES[code].day_with_weekday, locale(code))


def number(value: int | float | Decimal, language: str | None = None) -> str:
    """Return a number with the language's separators, e.g. '1 234 567,5' in Russian."""
    return format_decimal(value, locale=locale(language_or_active(language)))


# Amounts of a million and more are written as sources write them ("$27.5 billion") when CLDR's
# short compact form, with at most this many decimals, states them exactly; never rounded.
COMPACT_FROM: Final = Decimal(1_000_000)
COMPACT_DECIMALS: Final = 3


def money(
    value: Decimal,
    currency: str,
    language: str | None = None,
    *,
    compact_from: Decimal = COMPACT_FROM,
) -> str:
    """Return an amount with its currency, never rounded: compact from *compact_from* up when
    that is exact ('US$27.5B', '27,5 млрд $'), else in full ('1 234 567,89 ₸', '950 US$')."""
    where = locale(language_or_active(language))
    if abs(value) >= compact_from and _exact_in_compact_form(value):
        return format_compact_currency(
            value, currency, locale=where, fraction_digits=COMPACT_DECIMALS
        )
    if value == value.to_integral_value():
        # No ",00" on a whole amount: the locale's pattern without its fraction digits.
        pattern = copy.copy(where.currency_formats["standard"])
        pattern.frac_prec = (0, 0)
        return str(pattern.apply(value, where, currency=currency, currency_digits=False))
    return format_currency(value, currency, locale=where, decimal_quantization=False)


def _exact_in_compact_form(value: Decimal) -> bool:
    """Tell whether the short compact form (thousands, millions, billions…) states *value*."""
    # CLDR's short compact forms of kk, ru and en step by powers of a thousand.
    scale = Decimal(1000) ** ((len(str(int(abs(value)))) - 1) // 3)
    mantissa = value / scale
    return mantissa == round(mantissa, COMPACT_DECIMALS)


def currency_name(code: str, language: str | None = None) -> str:
    """Return a currency's name, e.g. 'US Dollar', 'доллар США', 'АҚШ доллары'."""
    return get_currency_name(code, locale=locale(language_or_active(language)))


def percent(value: Decimal, language: str | None = None) -> str:
    """Return a percentage given in points, every stated digit kept: 12.5 → '12.5%', '12,5 %'."""
    return format_percent(
        value / 100, locale=locale(language_or_active(language)), decimal_quantization=False
    )


# A pattern read into literal text and (letter, width) fields: "d MMM y" -> [("d", 1), " ", …].
Token = str | tuple[str, int]


# --- CLDR skeletons, the way TR35 reads them ----------------------------------------------------
def _time_skeleton(where: Locale) -> str:
    """Return hours and minutes on the locale's own clock: 'Hm' (24-hour) or 'hm'."""
    return "hm" if "h" in where.time_formats["short"].pattern else "Hm"


def _format(instant: dt.date, skeleton: str, where: Locale) -> str:
    """Format a date or a time by the locale's pattern for the closest skeleton."""
    return _apply(_pattern(skeleton, where), instant, where)


def _date_and_time(instant: dt.datetime, date_skeleton: str, where: Locale) -> str:
    """Format the date and the wall time of *instant*, joined as the locale joins them."""
    return _combine(
        _format(instant, date_skeleton, where),
        _format(instant, _time_skeleton(where), where),
        date_skeleton,
        where,
    )


def _combine(date_text: str, time_text: str, date_skeleton: str, where: Locale) -> str:
    """Join a date and a time by the locale's pattern for a date that wide ('{1}, {0}')."""
    width = (
        "full"
        if "EEEE" in date_skeleton
        else "long"
        if "MMMM" in date_skeleton
        else "medium"
        if "MMM" in date_skeleton
        else "short"
    )
    return str(where.datetime_formats[width]).replace("{1}", date_text).replace("{0}", time_text)


def _fallback(first: str, last: str, where: Locale) -> str:
    """Join two full texts by the locale's fallback interval pattern ('{0} – {1}')."""
    return str(where.interval_formats[None]).replace("{0}", first).replace("{1}", last)


def _interval(first: dt.date, last: dt.date, skeleton: str, where: Locale) -> str:
    """Format a range as babel.dates.format_interval does, with TR35's field-width adjustment.

    Babel matches 'yMMMMd' to the locale's 'yMMMd' interval and stops there, which would write
    'нояб.'; TR35 widens the matched pattern's fields back to the widths asked for.
    """
    if first == last:
        return _format(first, skeleton, where)
    formats = where.interval_formats
    best = skeleton if skeleton in formats else match_skeleton(skeleton, formats)
    if best is not None:
        parts = formats[best]
        begins, ends = DateTimeFormat(first, locale=where), DateTimeFormat(last, locale=where)
        for field in PATTERN_CHAR_ORDER:  # the greatest field that differs picks the pattern
            if field in parts and begins.extract(field) != ends.extract(field):
                start_pattern, end_pattern = parts[field]
                return _apply(_widened(start_pattern, skeleton), first, where) + _apply(
                    _widened(end_pattern, skeleton), last, where
                )
    return _fallback(_format(first, skeleton, where), _format(last, skeleton, where), where)


def _pattern(skeleton: str, where: Locale) -> list[Token]:
    """Return the locale's pattern for the closest skeleton, widened as *skeleton* asks."""
    skeletons = where.datetime_skeletons
    best = skeleton if skeleton in skeletons else match_skeleton(skeleton, skeletons)
    if best is None:
        raise ValueError(f"{where} has no date pattern near the skeleton {skeleton!r}")
    return _widened(str(skeletons[best]), skeleton)


def _widened(pattern: str, skeleton: str) -> list[Token]:
    """Return the pattern's tokens with text fields as wide as *skeleton* has them."""
    wanted = {
        _SAME_FIELD.get(token[0], token[0]): token[1]
        for token in _tokens(skeleton)
        if isinstance(token, tuple)
    }
    tokens: list[Token] = []
    for token in _tokens(pattern):
        if isinstance(token, tuple):
            char, count = token
            asked = wanted.get(_SAME_FIELD.get(char, char), 0)
            # Only a word widens to a word: 'MMM' to 'MMMM', 'E' to 'EEEE', never 'M' to 'MMMM'.
            if asked >= 3 and (count >= 3 or char == "E"):
                token = (char, asked)
        tokens.append(token)
    return tokens


def _tokens(pattern: str) -> list[Token]:
    return [value for _kind, value in _tokenize(pattern)]


def _apply(tokens: list[Token], instant: dt.date, where: Locale) -> str:
    fields = DateTimeFormat(instant, locale=where)
    return "".join(
        token if isinstance(token, str) else fields[token[0] * token[1]] for token in tokens
    )
