"""Is an identifier a caller sent well formed? A USCC or 居民身份证 number with a wrong check character is a
typo, and a typo must come back as *invalid*, never as "no record" (a window clerk would read that as a
clean applicant). The rules are the ingest's own (portal.public.codes), so the API and the import agree.
Messages name the problem, never the value."""

from __future__ import annotations

from portal.public.codes import (
    RIC15_RE,
    RIC18_RE,
    IdentifierError,
    normalise_code,
    normalise_ric,
    normalise_uscc,
)


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid USCC (length, characters, GB 32100-2015 check character), in Chinese."""
    try:
        normalise_uscc(normalise_code(code))
    except IdentifierError as exc:
        return exc.zh
    return None


def id_number_problem(number: str) -> str | None:
    """Why a number shaped as a 居民身份证 number (18 characters, or 15 digits) is not valid; None otherwise.

    Other documents (passports, passes) carry no check character and are compared as given.
    """
    compact = normalise_code(number)
    if not (RIC18_RE.match(compact) or RIC15_RE.match(compact)):
        return None
    try:
        normalise_ric(compact)
    except IdentifierError as exc:
        return exc.zh
    return None


def identifier_problems(uscc: str | None, id_number: str | None) -> list[str]:
    """The problems of one /check subject's identifiers, each prefixed with the field it concerns."""
    problems = []
    if uscc and (problem := uscc_problem(uscc)):
        problems.append(f"统一社会信用代码：{problem}")
    if id_number and (problem := id_number_problem(id_number)):
        problems.append(f"证件号码：{problem}")
    return problems
