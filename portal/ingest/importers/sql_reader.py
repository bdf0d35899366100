"""Tables and queries in a department database, through SQLAlchemy (SQLite, PostgreSQL, Oracle thin mode).

Rows are streamed with a server-side cursor (``stream_results`` + ``yield_per``). For a query the
headers come from executing it once and closing the cursor before any row is fetched; ``rows()`` runs it
again. The password never appears in ``name``, in any message, or in the digest input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from portal.ingest.errors import SourceError
from portal.ingest.importers.base import Row, SourceTable, format_datetime, require_rows_source, scalar_text
from portal.ingest.importers.oracle_errors import explain_oracle_error

FETCH_BATCH_ROWS = 2000
ORACLE_CONNECT_TIMEOUT_SECONDS = 10


def db_text(value: Any) -> str | None:
    """A database value as cell text: dates ISO, numbers without exponent, bytes as UTF-8."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        return scalar_text(value)
    except TypeError:
        return str(value)


def safe_url(url: URL) -> str:
    return url._replace(password=None).render_as_string(hide_password=False)


def _scrub(text: str, url: URL) -> str:
    password = url.password
    return text.replace(str(password), "***") if password else text


class _Target:
    """What a connection error message needs: which database was tried, without the password."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.name = safe_url(url)
        self.is_oracle = url.get_backend_name() == "oracle"
        service = url.query.get("service_name") or url.database
        self.service: str | None = service[0] if isinstance(service, tuple) else service

    def error(self, exc: BaseException, doing_zh: str) -> SourceError:
        if self.is_oracle:
            # The DBAPI error holds the Oracle message; SQLAlchemy's wrapper adds SQL text and a link.
            original = getattr(exc, "orig", None) or exc
            error = explain_oracle_error(_scrub(str(original), self.url), self.url.host, self.url.port,
                                         self.service)
            return error
        original = getattr(exc, "orig", None) or exc
        first_line = (_scrub(str(original), self.url).strip().splitlines() or [type(exc).__name__])[0]
        return SourceError(f"{doing_zh}失败（数据库 {self.name}）：{first_line}",
                           f"{self.name}: {type(original).__name__}: {first_line}")


def _engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "oracle":
        # Thin mode (no Oracle client); fail fast instead of the 20 s default, and do not retry.
        connect_args = {"tcp_connect_timeout": ORACLE_CONNECT_TIMEOUT_SECONDS, "retry_count": 0}
    elif url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": ORACLE_CONNECT_TIMEOUT_SECONDS}
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


def read_sql(spec: str, *, table: str | None = None, query: str | None = None) -> SourceTable:
    try:
        url = make_url(spec)
    except ArgumentError as exc:
        raise SourceError("数据库连接地址格式不正确。", f"invalid database URL: {type(exc).__name__}") from exc
    target = _Target(url)
    if (table is None) == (query is None):
        raise SourceError(f"读取数据库 {target.name} 时必须且只能指定表名或查询语句之一。",
                          f"{target.name}: give exactly one of table or query")
    try:
        engine = _engine(url)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise SourceError(f"不支持的数据库类型：{target.name}", f"unsupported database URL {target.name}: {exc}") from exc

    statement: sa.Executable
    try:
        with engine.connect() as connection:
            if table is not None:
                schema, table_name = _split_table(table)
                try:
                    reflected = sa.Table(table_name, sa.MetaData(), autoload_with=connection, schema=schema)
                except NoSuchTableError as exc:
                    available = sa.inspect(connection).get_table_names(schema=schema)[:30]
                    raise SourceError(
                        f"数据库 {target.name} 中没有表“{table}”。现有的表：{'、'.join(available) or '（无）'}。",
                        f"{target.name}: no table {table!r}; tables: {', '.join(available)}",
                    ) from exc
                statement = sa.select(reflected)
                headers = [column.name for column in reflected.columns]
                statement_text = str(statement.compile(dialect=engine.dialect))
            else:
                assert query is not None
                # Colons are escaped so that '12:30' or x::date are not taken for bind parameters.
                statement = sa.text(query.replace(":", "\\:"))
                result = connection.execution_options(stream_results=True).execute(statement)
                headers = list(result.keys())
                result.close()
                statement_text = query
    except SourceError:
        raise
    except SQLAlchemyError as exc:
        raise target.error(exc, "连接数据库或读取表结构") from exc
    except OSError as exc:
        raise target.error(exc, "连接数据库") from exc
    require_rows_source(headers, target.name)

    def rows() -> Iterator[Row]:
        try:
            with engine.connect() as connection:
                result = connection.execution_options(stream_results=True,
                                                      yield_per=FETCH_BATCH_ROWS).execute(statement)
                for index, record in enumerate(result, start=1):
                    yield index, [db_text(value) for value in record]
        except SQLAlchemyError as exc:
            raise target.error(exc, "读取数据") from exc

    digest = hashlib.sha256(f"{target.name}\n{statement_text}".encode()).hexdigest()
    return SourceTable(name=target.name, kind="oracle" if target.is_oracle else "sql", encoding=None,
                       sha256=digest, headers=headers, header_row=0, row_source=rows)
