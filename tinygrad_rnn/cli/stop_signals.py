"""Stopping at a step boundary: SIGINT (Ctrl-C), SIGTERM (``timeout``, ``docker stop``,
Slurm) and SIGHUP (a closed terminal) only set a flag; the training loop looks at it between
steps, saves, and exits with the shell's status for that signal, 128 + its number (130, 143,
129). So no signal ever lands inside ``optimizer.step()`` or a save.
"""
from __future__ import annotations

import signal
import threading

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class StopSignals:
    """``with StopSignals() as stop: ... if stop.received: ...``; the previous handlers come
    back on exit. SIGTERM or SIGHUP ignored on entry (``nohup``) stay ignored; SIGINT is
    always caught, since a shell starts background jobs with it ignored and a ``kill -INT``
    sent to one is meant."""

    def __init__(self):
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def exit_status(self) -> int:
        return 128 + int(self.received or 0)

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received else ""

    def _note(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self                  # handlers can only be set from the main thread
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            if signum != signal.SIGINT and previous is signal.SIG_IGN:
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
