"""Where an entry stands on a given day: under notice, published, or withheld (and why).

``imported → 公示中 → 已公布 → 期满``, with objection, credit repair and revocation as side exits
(see domain.md, "Lifecycle of an entry"). Pure functions of the row, its list and the day, so that
``--as-of`` replays any date and the nightly run withdraws expired entries without anyone remembering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.ingest.periods import Adjustment, bounded_until, is_short, period_end
from portal.ingest.validate import ValidRow
from portal.ingest.workdays import WorkCalendar
from portal.public.catalogue import ListSpec, Span
from portal.public.dates import add_months
from portal.public.records import PublicStatus, WithdrawalReason

# Withheld reasons (manifest counts). The first five are withdrawals and leave a tombstone.
EXPIRED = "expired"
REPAIRED = "repaired"
REVOKED = "revoked"
CORRECTED = "corrected"
REMOVED = "removed"
NOT_YET_PUBLIC = "not_yet_public"
OBJECTION_WITHHELD = "objection_withheld"
CONFLICT = "conflict"
WITHHELD_REASONS = (EXPIRED, REPAIRED, REVOKED, CORRECTED, REMOVED, NOT_YET_PUBLIC, OBJECTION_WITHHELD, CONFLICT)
TOMBSTONE_REASON = {
    EXPIRED: WithdrawalReason.EXPIRED, REPAIRED: WithdrawalReason.REPAIRED, REVOKED: WithdrawalReason.REVOKED,
    CORRECTED: WithdrawalReason.CORRECTED, REMOVED: WithdrawalReason.REMOVED,
}
_REMOVAL_REASON_TO_WITHHELD = {"信用修复": REPAIRED, "期满": EXPIRED, "撤销": REVOKED, "异议更正": CORRECTED}
_STATUS_TO_WITHHELD = {"已修复": REPAIRED, "已撤销": REVOKED, "已移出": REMOVED}


@dataclass(frozen=True)
class Outcome:
    status: PublicStatus | None  # set when public
    withheld: str | None  # one of WITHHELD_REASONS when not public
    notice_until: date | None
    publish_from: date
    publish_until: date | None
    withdrawn_on: date | None  # for withdrawals: the first day the entry was no longer public
    adjustment: Adjustment | None = None  # a file-given end clamped to the list's bounds

    @property
    def public(self) -> bool:
        return self.status is not None


def add_span(start: date, span: Span, calendar: WorkCalendar) -> date:
    """``start`` plus a span; working-day spans count on the official calendar."""
    if span.working:
        return calendar.add_working_days(start, span.days)
    end = add_months(start, span.years * 12 + span.months)
    return end + timedelta(days=span.days)


def publication_window(row: ValidRow, spec: ListSpec, calendar: WorkCalendar
                       ) -> tuple[date | None, date, date | None, Adjustment | None]:
    """(last day of notice, first public day, last public day or None for open-ended, clamp report)."""
    notice_until = add_span(row.decision_date, spec.notice, calendar) if spec.notice else None
    if row.publish_from:
        publish_from = row.publish_from
    elif notice_until:
        publish_from = notice_until + timedelta(days=1)
    else:
        publish_from = row.decision_date
    short = is_short(row.entry["details"], spec)
    if row.publish_until or row.open_ended:
        publish_until, adjustment = bounded_until(row.publish_until, row.open_ended, publish_from, spec, short,
                                                  calendar)
    else:
        adjustment = None
        period = spec.short_period if short else spec.period
        publish_until = period_end(publish_from, period, calendar) if period else None
        if spec.max_period:  # a catalogue whose default exceeds its own maximum: the maximum holds
            cap = period_end(publish_from, spec.max_period, calendar)
            publish_until = cap if publish_until is None else min(publish_until, cap)
    return notice_until, publish_from, publish_until, adjustment


def evaluate(row: ValidRow, spec: ListSpec, as_of: date, calendar: WorkCalendar) -> Outcome:
    """The state of one valid row on ``as_of``."""
    notice_until, publish_from, publish_until, adjustment = publication_window(row, spec, calendar)

    def withheld(reason: str, on: date | None = None) -> Outcome:
        return Outcome(None, reason, notice_until, publish_from, publish_until, on, adjustment)

    # Explicit removal by the authority (repair, revocation, court removal) wins over everything else.
    # A removal dated after ``as_of`` has not happened yet on that day (replays with --as-of stay true).
    removal_due = row.removal_date is None or row.removal_date <= as_of
    removal = _STATUS_TO_WITHHELD.get(row.status or "") if removal_due else None
    if row.removal_reason and removal_due and (removal or row.removal_date):
        removal = _REMOVAL_REASON_TO_WITHHELD[row.removal_reason]
    if removal is None and row.removal_date and removal_due:
        removal = REMOVED
    if removal:
        return withheld(removal, row.removal_date or as_of)
    if row.removal_date:  # a removal announced for a later day ends publication the day before
        last_day = row.removal_date - timedelta(days=1)
        publish_until = last_day if publish_until is None else min(publish_until, last_day)

    if as_of < row.decision_date:
        return withheld(NOT_YET_PUBLIC)
    if publish_until is not None and as_of > publish_until:
        return withheld(EXPIRED, publish_until + timedelta(days=1))
    objection = row.status == PublicStatus.OBJECTION.value
    if notice_until is not None and as_of <= notice_until:
        return Outcome(PublicStatus.OBJECTION if objection else PublicStatus.UNDER_NOTICE, None,
                       notice_until, publish_from, publish_until, None, adjustment)
    if as_of < publish_from:
        return withheld(NOT_YET_PUBLIC)
    if objection:
        if not spec.objection_visible:  # 暂停公示（异议处理中）: a notice at its URL, not a tombstone
            return withheld(OBJECTION_WITHHELD, row.objection_since)
        return Outcome(PublicStatus.OBJECTION, None, notice_until, publish_from, publish_until, None, adjustment)
    return Outcome(PublicStatus.PUBLISHED, None, notice_until, publish_from, publish_until, None, adjustment)
