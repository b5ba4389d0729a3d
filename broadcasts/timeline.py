"""Election timelines as data: one TOML file per election in ``broadcasts/timelines/``.

A file describes one election (pemilu, pilkada or a re-vote, psu): the regions it covers, its stages
(inclusive start/end dates) and, per stage, the reminder text for ASN and when to send it. Dates are
calendar dates in each region's **own** time zone (WIB/WITA/WIT), so a reminder "07:00, 1 day before"
fires at 07:00 WIB in Jakarta and 07:00 WITA in Samarinda: two different UTC instants.

File format (see the shipped files for full examples)::

    id = "pemilu-2024"                # slug, unique across files
    name = "Pemilu 2024"
    kind = "pemilu"                   # pemilu | pilkada | psu
    enabled = true                    # false: kept for reference / template, never scheduled
    regions = ["*"]                   # "*" or "ID" = all of Indonesia, else Kemendagri codes ("64", "64.11")
    timezone = "local"                # the only supported value: each region uses its own zone
    basis = "PKPU 3/2022"             # optional
    notes = "..."                     # optional
    reminders = [{days_before = 7, at = "07:00"}, {days_before = 1, at = "07:00"}]   # optional default

    [[stage]]
    id = "kampanye"
    name = "Masa kampanye"
    start = 2023-11-28                # TOML date or "YYYY-MM-DD"
    end = 2024-02-10                  # inclusive; optional for one-day stages
    reminder = "..."                  # required, Indonesian, at most 1200 characters
    reminders = []                    # optional override of the file default ([] = no reminders)

Stages must be listed in order of start date; they may overlap. Errors raise ``TimelineError`` whose
message starts with ``path:line:``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import regions
from bot.texts import format_date_id, t

__all__ = [
    "DEFAULT_OFFSETS",
    "KINDS",
    "MAX_REMINDER_CHARS",
    "TIMELINES_DIR",
    "ReminderOccurrence",
    "ReminderOffset",
    "Stage",
    "Timeline",
    "TimelineError",
    "current_and_next",
    "format_date_id",
    "load_timeline",
    "load_timelines",
    "reminder_message",
    "reminder_occurrences",
]

TIMELINES_DIR = Path(__file__).with_name("timelines")
KINDS = ("pemilu", "pilkada", "psu")
MAX_REMINDER_CHARS = 1200  # leaves room for a header inside WhatsApp's 1600-character body limit
MAX_DAYS_BEFORE = 366

_TOP_KEYS = {"id", "name", "kind", "enabled", "regions", "timezone", "basis", "notes", "reminders", "stage"}
_STAGE_KEYS = {"id", "name", "start", "end", "reminder", "reminders", "basis", "notes"}
_OFFSET_KEYS = {"days_before", "at"}
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TABLE_RE = re.compile(r"^\s*\[")
_STAGE_HEADER_RE = re.compile(r"^\s*\[\[\s*stage\s*\]\]\s*(#.*)?$")
_TOML_POS_RE = re.compile(r"\(at line (\d+), column \d+\)")


class TimelineError(ValueError):
    """An invalid timeline file. ``str(err)`` is ``"<path>:<line>: <message>"`` (no line if unknown)."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class ReminderOffset:
    days_before: int  # days before the stage's start date (0 = on the start date)
    at: time  # local wall-clock time in the subscriber's region


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    start: date
    end: date  # inclusive
    reminder: str
    offsets: tuple[ReminderOffset, ...]

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Timeline:
    id: str
    name: str
    kind: str
    regions: tuple[str, ...]
    stages: tuple[Stage, ...]
    enabled: bool
    source: Path

    def covers(self, region_code: str) -> bool:
        """True if the region, or one of its ancestors, is listed, or the timeline covers all of Indonesia."""
        if any(r in regions.ALL for r in self.regions):
            return True
        try:
            chain = regions.ancestors(region_code)
        except ValueError:
            return False
        return any(code in self.regions for code in chain)

    def timezones(self) -> tuple[str, ...]:
        """IANA zones of the regions covered, west to east: the zones the scheduler must compute."""
        if any(r in regions.ALL for r in self.regions):
            return tuple(regions.timezones())
        zones = {regions.tz_of(code) for code in self.regions}
        return tuple(z for z in regions.timezones() if z in zones)

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


@dataclass(frozen=True)
class ReminderOccurrence:
    key: str  # stable and unique: f"{timeline_id}:{stage_id}:d{days_before}-{HHMM}@{tz}"
    timeline_id: str
    stage_id: str
    fire_at_local: datetime  # aware, in ``tz``
    fire_at_utc: datetime  # aware, UTC
    tz: str
    days_before: int


DEFAULT_OFFSETS: tuple[ReminderOffset, ...] = (
    ReminderOffset(7, time(7, 0)),
    ReminderOffset(1, time(7, 0)),
    ReminderOffset(0, time(7, 0)),
)


# --------------------------------------------------------------------------------------------------
# Locating things in the raw text (tomllib reports no positions for valid TOML).


class _Source:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.stage_headers = [i + 1 for i, ln in enumerate(self.lines) if _STAGE_HEADER_RE.match(ln)]
        tables = [i + 1 for i, ln in enumerate(self.lines) if _TABLE_RE.match(ln)]
        self.first_table = tables[0] if tables else len(self.lines) + 1
        self._tables = tables

    def error(self, line: int | None, message: str) -> TimelineError:
        return TimelineError(self.path, line, message)

    def _key_line(self, key: str, start: int, end: int) -> int | None:
        pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
        for n in range(start, min(end, len(self.lines)) + 1):
            if pattern.match(self.lines[n - 1]):
                return n
        return None

    def _find(self, needle: str, start: int, end: int) -> int | None:
        for n in range(start, min(end, len(self.lines)) + 1):
            line = self.lines[n - 1]
            code = line.split("#", 1)[0] if "#" not in needle else line
            if needle in code:
                return n
        return None

    def top_key(self, key: str) -> int | None:
        return self._key_line(key, 1, self.first_table - 1)

    def top_value(self, key: str, needle: str) -> int | None:
        """Line of ``needle`` inside the value of a top-level key (values may span several lines)."""
        start = self.top_key(key)
        if start is None:
            return None
        return self._find(needle, start, self.first_table - 1) or start

    def stage_span(self, index: int) -> tuple[int, int] | None:
        if index >= len(self.stage_headers):
            return None
        start = self.stage_headers[index]
        following = [t for t in self._tables if t > start]
        end = following[0] - 1 if following else len(self.lines)
        return start, end

    def stage_header(self, index: int) -> int | None:
        span = self.stage_span(index)
        return span[0] if span else self.top_key("stage")

    def stage_key(self, index: int, key: str) -> int | None:
        span = self.stage_span(index)
        if span is None:
            return self.top_key("stage")
        return self._key_line(key, *span) or span[0]

    def stage_value(self, index: int, key: str, needle: str) -> int | None:
        span = self.stage_span(index)
        if span is None:
            return self.top_key("stage")
        start = self._key_line(key, *span) or span[0]
        return self._find(needle, start, span[1]) or start


# --------------------------------------------------------------------------------------------------
# Field parsing


def _toml_repr(value: Any) -> str:
    """How a scalar most likely appears in the source, for locating it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _parse_time(value: Any) -> time | None:
    if isinstance(value, time):
        return None if value.tzinfo else value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        m = _HHMM_RE.match(value.strip())
        if m:
            return time(int(m.group(1)), int(m.group(2)))
    return None


def _parse_offsets(src: _Source, raw: Any, locate_value: Any, where: str) -> tuple[ReminderOffset, ...]:
    """``locate_value(needle)`` → line. ``where`` names the owner in messages."""
    if not isinstance(raw, list):
        message = f"{where}: 'reminders' must be a list of {{days_before, at}} tables"
        raise src.error(locate_value(""), message)
    offsets: list[ReminderOffset] = []
    seen: set[tuple[int, time]] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise src.error(locate_value(_toml_repr(item)), f"{where}: each reminder must be a table")
        unknown = sorted(set(item) - _OFFSET_KEYS)
        if unknown:
            raise src.error(
                locate_value(unknown[0]),
                f"{where}: unknown key {unknown[0]!r} in reminder (allowed: days_before, at)",
            )
        days = item.get("days_before")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS_BEFORE:
            needle = "days_before" if days is None else f"days_before = {_toml_repr(days)}"
            raise src.error(
                locate_value(needle),
                f"{where}: 'days_before' must be a whole number from 0 to {MAX_DAYS_BEFORE}, got {days!r}",
            )
        at_raw = item.get("at")
        at = _parse_time(at_raw)
        if at is None:
            needle = "at" if at_raw is None else _toml_repr(at_raw)
            message = f"{where}: 'at' must be a local time \"HH:MM\", got {at_raw!r}"
            raise src.error(locate_value(needle), message)
        if (days, at) in seen:
            raise src.error(
                locate_value(f"days_before = {days}"),
                f"{where}: duplicate reminder {days} day(s) before at {at:%H:%M}",
            )
        seen.add((days, at))
        offsets.append(ReminderOffset(days, at))
    return tuple(sorted(offsets, key=lambda o: (-o.days_before, o.at)))


def _require_str(src: _Source, data: dict[str, Any], key: str, line: Any, where: str) -> str:
    value = data.get(key)
    if value is None:
        raise src.error(line(None), f"{where}: missing required key {key!r}")
    if not isinstance(value, str) or not value.strip():
        raise src.error(line(key), f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _parse_stage(src: _Source, index: int, raw: Any, default_offsets: tuple[ReminderOffset, ...]) -> Stage:
    header = src.stage_header(index)
    label = f"stage #{index + 1}"
    if not isinstance(raw, dict):
        raise src.error(header, f"{label} must be a table ([[stage]])")

    def key_line(key: str | None) -> int | None:
        return header if key is None else src.stage_key(index, key)

    unknown = sorted(set(raw) - _STAGE_KEYS)
    if unknown:
        raise src.error(
            src.stage_key(index, unknown[0]),
            f"{label}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_STAGE_KEYS))})",
        )
    stage_id = _require_str(src, raw, "id", key_line, label)
    if not _SLUG_RE.match(stage_id):
        raise src.error(key_line("id"), f"{label}: id {stage_id!r} must be lowercase letters, digits and '-'")
    label = f"stage {stage_id!r}"
    name = _require_str(src, raw, "name", key_line, label)

    if "start" not in raw:
        raise src.error(header, f"{label}: missing required key 'start'")
    start = _parse_date(raw["start"])
    if start is None:
        message = f"{label}: start {_toml_repr(raw['start'])!r} is not a date (YYYY-MM-DD)"
        raise src.error(key_line("start"), message)
    end = start
    if "end" in raw:
        parsed_end = _parse_date(raw["end"])
        if parsed_end is None:
            message = f"{label}: end {_toml_repr(raw['end'])!r} is not a date (YYYY-MM-DD)"
            raise src.error(key_line("end"), message)
        end = parsed_end
    if end < start:
        message = f"{label}: end {end.isoformat()} is before start {start.isoformat()}"
        raise src.error(key_line("end"), message)

    if "reminder" not in raw:
        raise src.error(header, f"{label}: missing required key 'reminder' (the text sent to ASN)")
    reminder = raw["reminder"]
    if not isinstance(reminder, str) or not reminder.strip():
        raise src.error(key_line("reminder"), f"{label}: 'reminder' must be a non-empty text")
    reminder = reminder.strip()
    if len(reminder) > MAX_REMINDER_CHARS:
        raise src.error(
            key_line("reminder"),
            f"{label}: 'reminder' is {len(reminder)} characters, the limit is {MAX_REMINDER_CHARS}",
        )

    offsets = default_offsets
    if "reminders" in raw:
        offsets = _parse_offsets(
            src, raw["reminders"], lambda needle: src.stage_value(index, "reminders", needle), label
        )
    for opt in ("basis", "notes"):
        if opt in raw and not isinstance(raw[opt], str):
            raise src.error(key_line(opt), f"{label}: {opt!r} must be a string")
    return Stage(stage_id, name, start, end, reminder, offsets)


def _parse(src: _Source, data: dict[str, Any]) -> Timeline:
    def key_line(key: str | None) -> int | None:
        return 1 if key is None else src.top_key(key)

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        line = src.top_key(unknown[0])
        if line is None:  # e.g. a [table] header
            header = re.compile(rf"^\s*\[+\s*{re.escape(unknown[0])}\b")
            line = next((n for n, ln in enumerate(src.lines, 1) if header.match(ln)), None)
        raise src.error(line, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")

    tl_id = _require_str(src, data, "id", key_line, "timeline")
    if not _SLUG_RE.match(tl_id):
        raise src.error(key_line("id"), f"id {tl_id!r} must be lowercase letters, digits and '-'")
    name = _require_str(src, data, "name", key_line, "timeline")
    kind = _require_str(src, data, "kind", key_line, "timeline")
    if kind not in KINDS:
        raise src.error(key_line("kind"), f"kind {kind!r} must be one of: {', '.join(KINDS)}")

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise src.error(key_line("enabled"), f"'enabled' must be true or false, got {enabled!r}")

    tz_mode = data.get("timezone", "local")
    if tz_mode != "local":
        raise src.error(
            key_line("timezone"),
            f'timezone {tz_mode!r} is not supported: use "local" (each region uses its own WIB/WITA/WIT)',
        )
    for opt in ("basis", "notes"):
        if opt in data and not isinstance(data[opt], str):
            raise src.error(key_line(opt), f"{opt!r} must be a string")

    raw_regions = data.get("regions")
    if raw_regions is None:
        raise src.error(1, "missing required key 'regions' (use [\"*\"] for all of Indonesia)")
    if not isinstance(raw_regions, list) or not raw_regions:
        raise src.error(key_line("regions"), "'regions' must be a non-empty list of region codes or \"*\"")
    codes: list[str] = []
    for item in raw_regions:
        line = src.top_value("regions", f'"{item}"' if isinstance(item, str) else _toml_repr(item))
        if not isinstance(item, str):
            raise src.error(line, f'region {item!r} must be a string code such as "64.02"')
        if item.strip() in regions.ALL:
            codes.append("*")
            continue
        region = regions.get(item)
        if region is None:
            hint = 'use Kemendagri codes like "64" or "64.02", or "*"'
            raise src.error(line, f"unknown region {item!r} ({hint})")
        if region.code in codes:
            raise src.error(line, f"region {item!r} is listed twice")
        codes.append(region.code)
    if "*" in codes and len(codes) > 1:
        raise src.error(key_line("regions"), "'regions' mixes \"*\" (all of Indonesia) with specific codes")

    default_offsets = DEFAULT_OFFSETS
    if "reminders" in data:
        default_offsets = _parse_offsets(
            src, data["reminders"], lambda needle: src.top_value("reminders", needle), "file default"
        )

    raw_stages = data.get("stage")
    if not raw_stages:
        raise src.error(None, "no stages: add at least one [[stage]] table")
    if not isinstance(raw_stages, list):
        raise src.error(key_line("stage"), "'stage' must be an array of tables ([[stage]])")
    stages: list[Stage] = []
    ids: set[str] = set()
    for index, raw in enumerate(raw_stages):
        stage = _parse_stage(src, index, raw, default_offsets)
        if stage.id in ids:
            raise src.error(src.stage_key(index, "id"), f"stage id {stage.id!r} is used twice")
        if stages and stage.start < stages[-1].start:
            raise src.error(
                src.stage_key(index, "start"),
                f"stage {stage.id!r} starts {stage.start.isoformat()}, before the previous stage "
                f"{stages[-1].id!r} ({stages[-1].start.isoformat()}): list stages in order of start date",
            )
        ids.add(stage.id)
        stages.append(stage)

    return Timeline(
        id=tl_id,
        name=name,
        kind=kind,
        regions=tuple(codes),
        stages=tuple(stages),
        enabled=enabled,
        source=src.path,
    )


# --------------------------------------------------------------------------------------------------
# Public API


def load_timeline(path: Path) -> Timeline:
    """Parse and validate one timeline file. Raises ``TimelineError`` ("path:line: message")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TimelineError(path, None, f"cannot read file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS_RE.search(str(exc))
        message = _TOML_POS_RE.sub("", str(exc)).strip()
        raise TimelineError(path, int(m.group(1)) if m else None, f"invalid TOML: {message}") from exc
    return _parse(_Source(path, text), data)


def load_timelines(directory: Path | None = None) -> list[Timeline]:
    """All ``*.toml`` timelines in ``directory`` (default: the shipped ones), enabled or not, by file name.

    Raises ``TimelineError`` for the first invalid file, or when two files share an id.
    """
    directory = Path(directory) if directory is not None else TIMELINES_DIR
    timelines: list[Timeline] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        timeline = load_timeline(path)
        if timeline.id in seen:
            src = _Source(path, path.read_text(encoding="utf-8"))
            message = f"timeline id {timeline.id!r} is already used by {seen[timeline.id]}"
            raise src.error(src.top_key("id"), message)
        seen[timeline.id] = path
        timelines.append(timeline)
    return timelines


def _local_today(region_code: str, now: datetime) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(regions.tz_of(region_code))).date()


def current_and_next(
    timelines: list[Timeline] | tuple[Timeline, ...], region_code: str, now: datetime
) -> tuple[tuple[Timeline, Stage] | None, tuple[Timeline, Stage] | None]:
    """The stage running today and the next one to start, for a region, by the region's local date.

    Only enabled timelines that cover the region count. When several stages run today the one that
    started last wins (then the shortest); "next" is the earliest start after today. ``now`` must be aware;
    an unknown region raises ``KeyError``.
    """
    today = _local_today(region_code, now)
    current: tuple[Timeline, Stage] | None = None
    upcoming: tuple[Timeline, Stage] | None = None
    for tl in timelines:
        if not tl.enabled or not tl.covers(region_code):
            continue
        for st in tl.stages:
            if st.contains(today):
                if current is None or (st.start, current[1].end) > (current[1].start, st.end):
                    current = (tl, st)
            elif st.start > today and (
                upcoming is None or (st.start, st.end) < (upcoming[1].start, upcoming[1].end)
            ):
                upcoming = (tl, st)
    return current, upcoming


def reminder_occurrences(timeline: Timeline, tz: str) -> list[ReminderOccurrence]:
    """Every reminder instant of a timeline for subscribers in time zone ``tz``, sorted by time.

    Includes past instants; the caller filters by "now". Raises ``ValueError`` for an unknown zone.
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc
    out: list[ReminderOccurrence] = []
    for st in timeline.stages:
        for off in st.offsets:
            local = datetime.combine(st.start - timedelta(days=off.days_before), off.at, tzinfo=zone)
            out.append(
                ReminderOccurrence(
                    key=f"{timeline.id}:{st.id}:d{off.days_before}-{off.at:%H%M}@{tz}",
                    timeline_id=timeline.id,
                    stage_id=st.id,
                    fire_at_local=local,
                    fire_at_utc=local.astimezone(UTC),
                    tz=tz,
                    days_before=off.days_before,
                )
            )
    out.sort(key=lambda o: (o.fire_at_utc, o.key))
    return out


def reminder_message(timeline: Timeline, stage: Stage, days_before: int) -> str:
    """The Indonesian message for one reminder: a heading with the stage dates, then the stage's text."""
    if stage.start == stage.end:
        when = format_date_id(stage.start)
    else:
        when = t("date.range", start=format_date_id(stage.start), end=format_date_id(stage.end))
    if days_before <= 0:
        lead = t("reminder.lead.today")
    elif days_before == 1:
        lead = t("reminder.lead.tomorrow")
    else:
        lead = t("reminder.lead.days", n=days_before)
    if stage.start != stage.end:
        lead = t("reminder.lead.starts", lead=lead.lower())
    return t("reminder.heading", timeline=timeline.name, lead=lead, stage=stage.name, when=when, text=stage.reminder)
