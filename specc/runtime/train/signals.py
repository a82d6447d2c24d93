"""Stop a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what cluster schedulers send).

While a `StopSignals` block is active, the first signal is only recorded: the trainer
finishes the current step, writes a checkpoint and exits 128 + the signal's number (130
for SIGINT, 143 for SIGTERM). A second signal gets the default behaviour (stop at once).
Between steps, while the trainer waits for data (`waiting`), the first signal ends the
wait at once: slow or stuck input (a network file system, a file that never ends) cannot
hold a stop back. Handlers can only be installed from the main thread; elsewhere this
does nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopWaiting(BaseException):
    """Raised by the handler into a wait for data (BaseException: no `except Exception` of
    a data set's decoding may swallow it)."""


class StopSignals:
    def __init__(self) -> None:
        self.received: int | None = None
        self.cut_short = False  # a signal ended a wait for data (see `waiting`)
        self._previous: dict[int, Any] = {}
        self._waiting = False

    def waiting(self, items: Iterator[T], enabled: bool = True) -> Iterator[T]:
        """`items`, with each wait for the next one ended at once by a signal (then
        `cut_short` is set and the iteration ends). Off (`enabled=False`) where several
        processes must stop after the same step."""
        while True:
            self._waiting = enabled and self.received is None
            try:
                item = next(items)
            except StopIteration:
                return
            except _StopWaiting:
                self.cut_short = True
                return
            finally:
                self._waiting = False
            yield item

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, _: FrameType | None) -> None:
        self.received = number
        for each in SIGNALS:  # a second signal stops at once
            signal.signal(
                each, signal.SIG_DFL if each == signal.SIGTERM else signal.default_int_handler
            )
        if self._waiting:
            self._waiting = False
            raise _StopWaiting

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    @property
    def exit_code(self) -> int:
        return 128 + (self.received or 0)
