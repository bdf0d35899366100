"""The private store of applications (SQLAlchemy Core): SQLite in ``var/applications/`` by default,
PostgreSQL through a URL for larger offices. Read and written by this package only.

Three tables: ``applications`` (one row per application, with its state and deadlines), ``attachments``
(metadata; the bytes are files in the attachment directory) and ``events`` (the audit trail: who, when,
what — for the applicant's submission and every operator step). Applicant ID numbers are kept only as a
keyed digest (the same HMAC as the public index, so the office can see whether the applicant is the listed
person) and the masked form (docs/applications.md, "ID numbers").
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from portal.applications.attachments import AttachmentDir, StoredFile
from portal.applications.rules import Kind
from portal.applications.settings import (
    QUERY_CODE_LENGTH,
    RECEIPT_RANDOM_LENGTH,
    RETENTION_YEARS,
    UNDECIDED_RETENTION_DAYS,
)
from portal.public.dates import add_months
from portal.public.snapshot import now_shanghai

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread on paper or over the phone
RECEIPT_PREFIX = {Kind.OBJECTION: "YY", Kind.REPAIR: "XF"}  # 异议 / 修复
# scrypt for the query codes: a stolen database does not give the 50-bit codes away. Measured 83–182 ms median
# per check on the loaded 2-core test machine (docs/applications.md); status queries are rate limited.
SCRYPT = {"n": 2**14, "r": 8, "p": 1}

# States: received (已提交，待受理) → accepted (已受理，核查中) → closed (已办结); or received → closed.
RECEIVED, ACCEPTED, CLOSED = "received", "accepted", "closed"
STATE_ZH = {RECEIVED: "待受理", ACCEPTED: "核查中", CLOSED: "已办结"}
# Outcomes of a closed application.
OUTCOME_ZH = {
    "not_accepted": "不予受理",
    "corrected": "异议成立，信息已更正（原信息停止公示）",
    "withdrawn": "申请人撤回异议，恢复正常公示",
    "upheld": "经核查原信息无误，维持公示",
    "repaired": "准予信用修复，信息停止公示",
    "refused": "不予信用修复",
}

metadata = MetaData()

applications = Table(
    "applications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receipt", String(32), nullable=False, unique=True),
    Column("code_hash", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("entry_id", String(64), nullable=False, index=True),
    Column("list_code", String(32), nullable=False),
    Column("list_name", String(200), nullable=False),
    Column("entry_subject", String(200), nullable=False),  # the entry's public subject name
    Column("state", String(16), nullable=False, index=True),
    Column("outcome", String(24)),
    Column("applicant_type", String(8), nullable=False),  # unit | person
    Column("applicant_name", String(200), nullable=False),
    Column("applicant_code", String(40)),  # a unit's 统一社会信用代码 (public anyway), or a masked ID number
    Column("applicant_id_digest", String(64)),  # HMAC of a person's ID number (portal.public.digest)
    Column("identity_matches", Boolean),  # the applicant's code/number is the entry subject's
    Column("contact_name", String(50), nullable=False),
    Column("contact_phone", String(20), nullable=False),
    Column("contact_email", String(254)),
    Column("grounds", Text, nullable=False),
    Column("submitted_at", String(40), nullable=False),
    Column("received_on", Date, nullable=False),
    Column("accepted_on", Date),
    Column("closed_on", Date),
    Column("effective_on", Date),  # the day the recorded entry action takes effect
    Column("reply", Text),  # the office's reason, shown to the applicant
    Column("purge_after", Date, nullable=False, index=True),
)

attachments = Table(
    "attachments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", Integer, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("stored_name", String(64), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receipt", String(32), nullable=False, index=True),
    Column("entry_id", String(64), nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # JSON; never the applicant's personal data
)


class StoreError(ValueError):
    """An operator step that the application's state does not allow; message in Chinese."""


def new_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(QUERY_CODE_LENGTH))


def normalise_code(code: str) -> str:
    """As typed: spaces and hyphens dropped, lower case accepted, I/L read as 1 and O as 0 (Crockford)."""
    compact = "".join(code.split()).replace("-", "").upper()
    return compact.translate(str.maketrans("ILO", "110"))


def hash_code(code: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(normalise_code(code).encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def code_matches(code: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_code(code, bytes.fromhex(salt)), stored)


@dataclass
class NewApplication:
    kind: Kind
    entry: dict[str, Any]  # the public entry (search API view)
    applicant_type: str
    applicant_name: str
    applicant_code: str | None
    applicant_id_digest: str | None
    identity_matches: bool | None
    contact_name: str
    contact_phone: str
    contact_email: str | None
    grounds: str
    files: list[tuple[bytes, str | None, str]] = field(default_factory=list)  # (data, name, media type)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA secure_delete = ON")  # purged rows leave no readable bytes behind
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class ApplicationStore:
    def __init__(self, url: str, attachment_dir: AttachmentDir) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.engine = _engine(url)
        self.files = attachment_dir
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- applicant side -----------------------------------------------------------------------------

    def create(self, new: NewApplication, today: date) -> tuple[str, str]:
        """Store an application and its attachments; returns (receipt number, query code)."""
        code = new_code()
        stored: list[StoredFile] = [self.files.save(data, name, media) for data, name, media in new.files]
        try:
            for _attempt in range(5):
                receipt = (f"{RECEIPT_PREFIX[new.kind]}{today.strftime('%Y%m%d')}-"
                           + "".join(secrets.choice(CROCKFORD) for _ in range(RECEIPT_RANDOM_LENGTH)))
                try:
                    with self.transaction() as conn:
                        self._insert(conn, new, receipt, code, today, stored)
                    return receipt, code
                except IntegrityError:
                    continue  # the same random receipt twice: draw again
            raise RuntimeError("could not draw a unique receipt number")
        except BaseException:
            for f in stored:
                self.files.delete(f.stored_name)
            raise

    def _insert(self, conn: Connection, new: NewApplication, receipt: str, code: str, today: date,
                stored: list[StoredFile]) -> None:
        entry = new.entry
        app_id = conn.execute(insert(applications).values(
            receipt=receipt, code_hash=hash_code(code), kind=new.kind.value, entry_id=entry["id"],
            list_code=entry["list_code"], list_name=entry["list_name"], entry_subject=entry["subject_name"],
            state=RECEIVED, applicant_type=new.applicant_type, applicant_name=new.applicant_name,
            applicant_code=new.applicant_code, applicant_id_digest=new.applicant_id_digest,
            identity_matches=new.identity_matches, contact_name=new.contact_name, contact_phone=new.contact_phone,
            contact_email=new.contact_email, grounds=new.grounds, submitted_at=now_shanghai().isoformat(),
            received_on=today, purge_after=today + timedelta(days=UNDECIDED_RETENTION_DAYS),
        )).inserted_primary_key[0]  # type: ignore[index]  # always set after an INSERT
        for f in stored:
            conn.execute(insert(attachments).values(application_id=app_id, stored_name=f.stored_name,
                                                    filename=f.filename, media_type=f.media_type, size=f.size,
                                                    sha256=f.sha256))
        self._event(conn, receipt, entry["id"], "申请人（网上提交）", "submitted",
                    {"kind": new.kind.value, "attachments": len(stored)})

    def verify(self, receipt: str, code: str) -> dict[str, Any] | None:
        """The application when the query code is right, else None (unknown receipt or wrong code alike)."""
        row = self.get(receipt)
        if row is None:
            hash_code(code)  # same work either way: timing tells nothing about which receipts exist
            return None
        return row if code_matches(code, row["code_hash"]) else None

    # --- reading ------------------------------------------------------------------------------------

    def get(self, receipt: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(applications).where(applications.c.receipt == receipt.strip().upper())).first()
        return dict(row._mapping) if row else None

    def attachments_of(self, application_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(attachments).where(attachments.c.application_id == application_id)
                                .order_by(attachments.c.id)).all()
        return [dict(r._mapping) for r in rows]

    def list_applications(self, *, state: str | None = None, kind: str | None = None, entry_id: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        query = select(applications).order_by(applications.c.id.desc()).limit(limit)
        if state:
            query = query.where(applications.c.state == state)
        if kind:
            query = query.where(applications.c.kind == kind)
        if entry_id:
            query = query.where(applications.c.entry_id == entry_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def events_of(self, *, receipt: str | None = None, entry_id: str | None = None) -> builtins.list[dict[str, Any]]:
        query = select(events).order_by(events.c.id)
        if receipt:
            query = query.where(events.c.receipt == receipt)
        if entry_id:
            query = query.where(events.c.entry_id == entry_id)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query).all()]
        for row in rows:
            row["detail"] = orjson.loads(row["detail"])
        return rows

    # --- operator side ------------------------------------------------------------------------------

    def transition(self, conn: Connection, receipt: str, *, expect: tuple[str, ...], actor: str, action: str,
                   values: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        """Move an application on, inside the caller's transaction (which also records the entry action)."""
        row = conn.execute(select(applications).where(applications.c.receipt == receipt)
                           .with_for_update()).first()
        if row is None:
            raise StoreError(f"没有受理编号为 {receipt} 的申请")
        current = dict(row._mapping)
        if current["state"] not in expect:
            raise StoreError(f"申请 {receipt} 当前状态为“{STATE_ZH[current['state']]}”，不能{_ACTION_ZH[action]}")
        if values.get("state") == CLOSED:
            closed_on = values["closed_on"]
            values = {**values, "purge_after": add_months(closed_on, 12 * RETENTION_YEARS)}
        conn.execute(update(applications).where(applications.c.id == current["id"]).values(**values))
        self._event(conn, receipt, current["entry_id"], actor, action, detail)
        return {**current, **values}

    def _event(self, conn: Connection, receipt: str, entry_id: str, actor: str, action: str,
               detail: dict[str, Any]) -> None:
        conn.execute(insert(events).values(receipt=receipt, entry_id=entry_id, at=now_shanghai().isoformat(),
                                           actor=actor, action=action, detail=orjson.dumps(detail).decode()))

    def purge(self, today: date, actor: str) -> dict[str, int]:
        """Delete applications (rows, events, attachment files) whose retention has run out."""
        counts = {"applications": 0, "attachments": 0}
        doomed: list[str] = []
        with self.transaction() as conn:
            due = conn.execute(select(applications.c.id, applications.c.receipt, applications.c.entry_id)
                               .where(applications.c.purge_after < today)).all()
            for app_id, receipt, entry_id in due:
                files = conn.execute(select(attachments.c.stored_name)
                                     .where(attachments.c.application_id == app_id)).scalars().all()
                conn.execute(delete(attachments).where(attachments.c.application_id == app_id))
                conn.execute(delete(events).where(events.c.receipt == receipt))
                conn.execute(delete(applications).where(applications.c.id == app_id))
                # What remains: that an application existed and when it was purged, nothing about who filed it.
                self._event(conn, receipt, entry_id, actor, "purged", {"attachments": len(files)})
                doomed += files
                counts["applications"] += 1
                counts["attachments"] += len(files)
        for name in doomed:  # after the commit: a failed purge leaves rows and files together
            self.files.delete(name)
        return counts


_ACTION_ZH = {"accepted": "受理", "rejected": "不予受理或驳回", "resolved": "办结", "repaired": "准予修复"}
