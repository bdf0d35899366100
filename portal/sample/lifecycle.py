"""Lifecycle states of sample entries and dates that put an entry into its state on ``as_of``.

Dates keep a safety margin of at least ten days from every boundary (end of notice, end of period), so an
importer that counts working days with the official holiday calendar and one that counts calendar days
agree on the state of every row: the file says what it means without depending on 调休 details.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from portal.ingest.periods import calendar_period_end
from portal.public.catalogue import ListSpec, Span
from portal.public.records import ListKind
from portal.sample.draw import between, pick

NOTICE = "notice"  # decision a few days ago, list has a pre-publication notice: 公示中
PUBLISHED = "published"
EXPIRED = "expired"  # publication period over (or publish_until in the past)
OBJECTION = "objection"  # 异议处理中
REPAIRED = "repaired"  # 已修复, withdrawn early after 信用修复
REVOKED = "revoked"  # 已撤销 (honour revoked)
STATES: tuple[str, ...] = (NOTICE, PUBLISHED, EXPIRED, OBJECTION, REPAIRED, REVOKED)
_STATE_WEIGHTS = {NOTICE: 7, PUBLISHED: 58, EXPIRED: 18, OBJECTION: 5, REPAIRED: 6, REVOKED: 6}
MARGIN_DAYS = 10  # distance kept from every lifecycle boundary

STATUS_NOTICE = "公示中"
STATUS_PUBLISHED = "已公布"
STATUS_OBJECTION = "异议处理中"
STATUS_REPAIRED = "已修复"
STATUS_REVOKED = "已撤销"
REASON_REPAIRED = "信用修复"
REASON_REVOKED = "撤销"


def states_for(spec: ListSpec, has_status: bool, has_until: bool) -> tuple[str, ...]:
    """The states a file can express for a list: objections and withdrawals need a 状态 column."""
    states = [PUBLISHED]
    if spec.notice:
        states.append(NOTICE)
    if spec.period or has_until:
        states.append(EXPIRED)
    if has_status and spec.kind in (ListKind.BLACK, ListKind.WATCH):
        states += [OBJECTION, REPAIRED]
    if has_status and spec.kind == ListKind.RED:
        states.append(REVOKED)
    return tuple(s for s in STATES if s in states)


class StateDeck:
    """Deals states in exact proportions: a shuffled deck of 100 cards, reshuffled when used up."""

    def __init__(self, rng: random.Random, states: tuple[str, ...]) -> None:
        total = sum(_STATE_WEIGHTS[s] for s in states)
        self.cards = [s for s in states for _ in range(round(100 * _STATE_WEIGHTS[s] / total))]
        self.rng = rng
        self.position = len(self.cards)

    def deal(self) -> str:
        if self.position == len(self.cards):
            self.rng.shuffle(self.cards)
            self.position = 0
        self.position += 1
        return self.cards[self.position - 1]


@lru_cache(maxsize=64)
def _notice_days_max(notice: Span | None) -> int:
    """Calendar days a notice can last at most: 20 working days span up to ~40 days over 春节."""
    if not notice:
        return 0
    return notice.days * 2 if notice.working else notice.days


def _publish_delay(notice: Span | None) -> int:
    """Days from decision to publication that end the notice under any holiday calendar."""
    if not notice:
        return 0
    return notice.days * 2 if notice.working else notice.days + 1


@lru_cache(maxsize=64)
def _period_days(period: Span) -> tuple[int, int]:
    """Shortest and longest length of a period in calendar days."""
    shortest = period.years * 365 + int(period.months * 30.4) - (2 if period.months else 0) + period.days
    longest = period.years * 366 + int(period.months * 30.4) + (3 if period.months else 0) + period.days
    return shortest, longest


def add_period(start: date, period: Span) -> date:
    """Last public day of a period starting on ``start`` (the ingest's own rule, portal.ingest.periods)."""
    return calendar_period_end(start, period)


@dataclass(slots=True)
class Dates:
    decision: date
    publish_from: date | None = None
    publish_until: date | None = None
    removal: date | None = None
    status: str = ""
    removal_reason: str = ""


def _weekday_before(day: int) -> int:
    """Decisions are signed on working days: move a Saturday/Sunday back to Friday."""
    weekday = date.fromordinal(day).weekday()
    return day - (weekday - 4) if weekday > 4 else day


def plan_dates(rng: random.Random, state: str, spec: ListSpec, period: Span | None, as_of: date,
               with_from: bool, with_until: bool) -> Dates:
    """Dates and status that put an entry of ``spec`` into ``state`` on ``as_of``.

    ``period`` is the publication period that applies to this entry (the list's, or its short period for
    警告/通报批评); ``with_from``/``with_until`` say whether the file carries those columns.
    """
    today = as_of.toordinal()
    notice_max = _notice_days_max(spec.notice)
    if state == NOTICE:
        recent = 8 if spec.notice and spec.notice.working else max(1, spec.notice.days // 2 if spec.notice else 1)
        decision = _weekday_before(today - between(rng.random, 1, recent))
        return Dates(date.fromordinal(decision), status=STATUS_NOTICE if rng.random() < 0.4 else "")

    if period is None:  # until removed (court): the file's publish_until decides
        if state == EXPIRED:
            until = today - between(rng.random, MARGIN_DAYS, 700)
            decision = _weekday_before(until - between(rng.random, 180, 1500))
            return Dates(date.fromordinal(decision), publish_until=date.fromordinal(until),
                         status=pick(rng.random, ("", STATUS_PUBLISHED)))
        decision = _weekday_before(today - between(rng.random, MARGIN_DAYS + 20, 2000))
        until_day = date.fromordinal(today + between(rng.random, 30, 900)) if with_until and rng.random() < 0.4 else None
        return _withdrawals(rng, state, Dates(date.fromordinal(decision), publish_until=until_day), today, notice_max)

    shortest, longest = _period_days(period)
    if state == EXPIRED:
        decision = _weekday_before(today - between(rng.random, notice_max + longest + 2 * MARGIN_DAYS,
                                                       notice_max + longest + 900))
    else:
        earliest = notice_max + MARGIN_DAYS + (100 if state == REPAIRED else 0)
        decision = _weekday_before(today - between(rng.random, earliest, max(earliest, shortest - 2 * MARGIN_DAYS)))
    dates = Dates(date.fromordinal(decision))
    if state == EXPIRED:
        dates.status = pick(rng.random, ("", "", STATUS_PUBLISHED))
    if with_from and rng.random() < 0.7:
        # Published after the notice: never earlier than any calendar would end it.
        dates.publish_from = date.fromordinal(decision + _publish_delay(spec.notice))
        if with_until:
            dates.publish_until = add_period(dates.publish_from, period)
    elif with_until and rng.random() < 0.5:
        dates.publish_until = add_period(dates.decision, period) if not spec.notice else None
    return _withdrawals(rng, state, dates, today, notice_max)


def _withdrawals(rng: random.Random, state: str, dates: Dates, today: int, notice_max: int) -> Dates:
    if state == PUBLISHED:
        dates.status = pick(rng.random, ("", STATUS_PUBLISHED))
    elif state == OBJECTION:
        dates.status = STATUS_OBJECTION
    elif state in (REPAIRED, REVOKED):
        public_since = dates.decision.toordinal() + notice_max + (90 if state == REPAIRED else 0)
        dates.removal = date.fromordinal(today - between(rng.random, 1, max(1, min(90, today - public_since - 1))))
        dates.status = STATUS_REPAIRED if state == REPAIRED else STATUS_REVOKED
        dates.removal_reason = REASON_REPAIRED if state == REPAIRED else REASON_REVOKED
    return dates
