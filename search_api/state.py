"""What the API's handlers share: the application state, the rate-limit helpers and one executor hop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from search_api.engines.base import Engine
from search_api.engines.factory import make_executor
from search_api.errors import ApiError
from search_api.ratelimit import RateLimiter
from search_api.settings import Settings

Result = TypeVar("Result")


class AppState:
    """What the handlers share: settings, engine, clock and rate limiters."""

    def __init__(self, settings: Settings, engine: Engine, today: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.engine = engine
        self.executor = make_executor(settings)
        self.run = self.executor.run  # every engine call goes through here, never on the event loop
        self.today = today
        burst = settings.rate_burst_factor
        self.search_limiter = RateLimiter(settings.rate_search_per_minute, burst, clock)
        self.person_limiter = RateLimiter(settings.rate_person_per_minute, burst, clock)
        self.check_limiter = RateLimiter(settings.rate_check_per_minute, burst, clock)


async def state(request: Request) -> AppState:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, one more hop per request.
    return request.app.state.portal


StateDep = Annotated[AppState, Depends(state)]


def client_ip(request: Request) -> str:
    """The caller's address (socket, or X-Forwarded-For when trusted); the limiters group it by client
    (IPv6 /64) and network (IPv4 /24, IPv6 /48), see ``search_api.ratelimit``."""
    return str(request.app.state.client_ip(request.scope))


def limit(limiter: RateLimiter, key: str) -> None:
    wait = limiter.allow(key)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"请求过于频繁，请在 {int(wait)} 秒后重试",
                       headers={"Retry-After": str(int(wait))})


def data_as_of(app: AppState) -> str:
    return str(app.engine.meta().get("data_as_of", ""))


async def with_data_as_of(app: AppState, function: Callable[..., Result], /, *args: Any) -> tuple[Result, str]:
    """Run an engine call and read data_as_of in the same executor job: one thread hop per request."""
    return await app.run(lambda: (function(*args), data_as_of(app)))
