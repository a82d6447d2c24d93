"""Stop a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what cluster schedulers send).

While a `StopSignals` block is active, the first signal is only recorded: the trainer
finishes the current step, writes a checkpoint and exits 128 + the signal's number (130
for SIGINT, 143 for SIGTERM). A second signal gets the default behaviour (stop at once).
Handlers can only be installed from the main thread; elsewhere this does nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

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
