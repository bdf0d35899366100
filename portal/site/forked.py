"""Work that a build can do on the other core while Pelican reads content: a call in a forked process.

A build is mostly one Python thread. The page store's directory scan depends only on files that nothing
changes before the store opens, so it is started in a forked process when Pelican initialises and its
result is collected when the store opens. A failed, killed or late child is not an error: the caller then
does the work itself.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


class ForkedCall:
    """``function(*args)`` in a forked process; :meth:`result` is its return value, or None if it failed."""

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_run_and_send, args=(sender, function, args), daemon=True,
                                        name=f"portal-{getattr(function, '__name__', 'call')}")
        self._process.start()
        sender.close()

    def result(self, timeout: float = 120.0) -> Any:
        """The child's return value (waiting at most ``timeout`` seconds), or None."""
        try:
            if self._receiver.poll(timeout):
                return self._receiver.recv()
            return None
        except (EOFError, OSError):
            return None
        finally:
            self.cancel()

    def cancel(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._receiver.close()


def _run_and_send(sender: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        value = function(*args)
    except BaseException:  # noqa: BLE001 - the parent does the work itself and reports the error
        value = None
    sender.send(value)
    sender.close()


_pending: dict[tuple[str, ...], ForkedCall] = {}


def start(key: tuple[str, ...], function: Callable[..., Any], *args: Any) -> None:
    """Start ``function(*args)`` for a later :func:`take` with the same key (replacing an unused one)."""
    if key in _pending:  # from a build that failed before it collected its result
        _pending.pop(key).cancel()
    _pending[key] = ForkedCall(function, *args)


def take(key: tuple[str, ...]) -> Any:
    """The result of the call started under ``key``, or None if there was none or it failed."""
    call = _pending.pop(key, None)
    return call.result() if call is not None else None
