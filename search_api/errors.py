"""One error envelope for every 4xx/5xx: ``{"error": {"code", "message"}}``. No stack trace, no echo of input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from search_api.engines.base import EngineBusy, EngineError, IndexMissing, QueryTimeout

logger = logging.getLogger("search_api.errors")

# Default code and Chinese message per HTTP status, for errors raised by the framework itself.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "需要有效的 API 密钥（请求头 X-API-Key）"),
    403: ("forbidden", "API 密钥无效或已被吊销"),
    404: ("not_found", "未找到请求的资源"),
    405: ("method_not_allowed", "不支持该请求方法"),
    410: ("gone", "该信息已不再公示"),  # portal.public.states.WITHDRAWN
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请求内容类型不受支持"),
    422: ("invalid_parameter", "请求参数有误"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请稍后再试"),
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def envelope(status: int, code: str | None = None, message: str | None = None, *,
             headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> JSONResponse:
    default_code, default_message = STATUS_ERRORS.get(status, ("error", "请求失败"))
    body: dict[str, Any] = {"error": {"code": code or default_code, "message": message or default_message}}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    # Names the offending fields only; the values are never echoed (they may be ID numbers).
    fields = []
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return "请求体不是有效的 JSON"
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        fields.append(".".join(location) or "请求体")
    unique = list(dict.fromkeys(fields))
    return "请求参数有误：" + "、".join(unique[:10])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, headers=exc.headers, extra=exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return envelope(exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope(422, "invalid_parameter", _validation_message(exc))

    @app.exception_handler(QueryTimeout)
    async def timeout_error(_: Request, exc: QueryTimeout) -> JSONResponse:
        return envelope(503, "query_timeout", "查询超时，请缩小查询范围或增加筛选条件后重试", headers={"Retry-After": "5"})

    @app.exception_handler(EngineBusy)
    async def busy(_: Request, exc: EngineBusy) -> JSONResponse:
        return envelope(503, "busy", "查询繁忙，请稍后再试", headers={"Retry-After": "5"})

    @app.exception_handler(IndexMissing)
    async def index_missing(_: Request, exc: IndexMissing) -> JSONResponse:
        return envelope(503, "index_unavailable", "检索索引尚未建立，请稍后再试", headers={"Retry-After": "60"})

    @app.exception_handler(EngineError)
    async def engine_error(_: Request, exc: EngineError) -> JSONResponse:
        logger.error("engine error: %s", type(exc).__name__)
        return envelope(503, "engine_error", "检索服务暂时不可用，请稍后再试", headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Logged by type only: an exception message could carry request data.
        logger.error("unhandled %s", type(exc).__name__, exc_info=False)
        return envelope(500)
