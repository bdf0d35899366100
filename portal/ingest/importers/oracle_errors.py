"""Oracle connection errors, explained to the operator: what was tried and what to check.

python-oracledb thin mode reports listener problems as DPY-6000/6001/6003/6005 (with "Similar to ORA-…");
the server and thick mode report ORA-xxxxx. Both spellings are recognised. The password is never part
of the input and never part of the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portal.ingest.errors import SourceError

_CODE = re.compile(r"\b(ORA|DPY|TNS)-(\d{4,5})\b")


def _codes(text: str) -> set[str]:
    return {f"{prefix}-{int(number):05d}" if prefix != "DPY" else f"DPY-{number}"
            for prefix, number in _CODE.findall(text)}


@dataclass(frozen=True)
class _Explanation:
    """What an error means and what to check; it applies when the error carries one of ``codes`` or its text
    (lower case) contains one of ``markers``."""

    codes: frozenset[str]
    markers: tuple[str, ...]
    zh: str
    en: str


# First match wins: the order matters where an error can carry several codes or markers.
_EXPLANATIONS = (
    _Explanation(frozenset({"ORA-12514", "DPY-6001"}), (),
                 "监听程序不认识所请求的服务。请检查：1) 填写的是服务名（SERVICE_NAME）而不是 SID——两者常常不同，"
                 "在数据库服务器上执行 `lsnrctl status` 查看监听程序已知的服务；2) 数据库实例是否已启动并已向监听程序注册服务"
                 "（可执行 `ALTER SYSTEM REGISTER;`，或检查 LOCAL_LISTENER 参数）；3) 修改 listener.ora 后是否已重启监听程序"
                 "（`lsnrctl stop` / `lsnrctl start`）。",
                 "the listener does not know the requested service (service name vs SID, lsnrctl status, registration)"),
    _Explanation(frozenset({"ORA-12505", "DPY-6003"}), (),
                 "监听程序不认识所给的 SID。请确认对方提供的是 SID 还是服务名：若是服务名，请在连接地址中使用 "
                 "`?service_name=…`；用 `lsnrctl status` 查看已注册的实例与服务。",
                 "the listener does not know the SID given (use service_name= if it is a service name)"),
    _Explanation(frozenset({"ORA-01017"}), (),
                 "用户名或密码错误，登录被拒绝。请向数据提供部门核对只读账号的用户名和密码（注意大小写）。",
                 "invalid username or password"),
    _Explanation(frozenset({"DPY-4001"}), (),
                 "没有提供用户名或密码。请在连接地址中填写只读账号。",
                 "no credentials given"),
    _Explanation(frozenset({"ORA-28000"}), (),
                 "数据库账号已被锁定。请联系数据提供部门的数据库管理员解锁。",
                 "the account is locked"),
    _Explanation(frozenset({"ORA-28001"}), (),
                 "数据库账号的密码已过期。请联系数据提供部门重置密码。",
                 "the password has expired"),
    _Explanation(frozenset({"ORA-12170", "ORA-12535"}), ("timed out", "timeout"),
                 "连接超时：在规定时间内没有收到数据库的响应。请检查：主机地址是否正确、网络是否连通、防火墙或安全组"
                 "是否放行该端口、数据库服务器是否负载过高。",
                 "connection timed out (address, network route, firewall)"),
    _Explanation(frozenset(), ("name or service not known", "getaddrinfo", "nodename nor servname",
                               "temporary failure in name resolution"),
                 "无法解析主机名。请检查主机地址是否拼写正确，或改用 IP 地址。",
                 "the host name cannot be resolved"),
    _Explanation(frozenset({"ORA-12541", "DPY-6005", "DPY-6000"}), ("connection refused",),
                 "该主机端口上没有监听程序（连接被拒绝）。请检查：1) 监听程序是否已启动（在数据库服务器上执行 "
                 "`lsnrctl status`，未启动则 `lsnrctl start`）；2) 端口是否正确（默认 1521）；3) 防火墙是否放行该端口；"
                 "4) 监听程序是否只监听在 localhost 上。",
                 "no listener at host:port (is the listener started, right port, firewall)"),
    _Explanation(frozenset({"ORA-00942"}), (),
                 "表或视图不存在，或该账号没有查询权限。请核对表名（含所属用户/模式）并确认已授予 SELECT 权限。",
                 "table or view does not exist, or no SELECT privilege"),
)


def explain_oracle_error(exc_or_text: BaseException | str, host: str | None, port: int | None,
                         service: str | None) -> SourceError:
    """Turn an Oracle connection error into one SourceError naming host, port and service."""
    text = str(exc_or_text)
    lowered = text.lower()
    codes = _codes(text)
    target_zh = f"{host or '（未指定主机）'}:{port or 1521}，服务名/SID “{service or '（未指定）'}”"
    target_en = f"{host}:{port or 1521}, service/SID {service!r}"
    shown_codes = "、".join(sorted(codes)) or "无错误代码"
    known = next((e for e in _EXPLANATIONS if codes & e.codes or any(m in lowered for m in e.markers)), None)
    if known is not None:
        zh, en = known.zh, known.en
    else:
        first_line = text.strip().splitlines()[0] if text.strip() else type(exc_or_text).__name__
        zh = f"连接或查询 Oracle 数据库失败：{first_line}"
        en = f"Oracle error: {first_line}"
    return SourceError(
        f"无法从 Oracle 数据库读取数据（{target_zh}；{shown_codes}）。{zh}",
        f"Oracle source {target_en} failed ({', '.join(sorted(codes)) or 'no code'}): {en}",
    )
