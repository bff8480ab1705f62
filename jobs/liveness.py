"""A running job's heartbeat, and telling a stopped worker apart from a broken video."""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from rq.exceptions import ShutDownImminentException
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from pipelines.errors import DecoderKilled
from webapp.models import heartbeat_statement

log = logging.getLogger(__name__)

#: Signals that ask a process to stop (a deploy, a restart, Ctrl-C, RQ's HerokuWorker).
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} | set(
    range(signal.SIGRTMIN, signal.SIGRTMAX + 1)
)


class Heartbeat:
    """A thread that refreshes the running row's ``updated_at`` every ``every`` seconds.

    The refresh is conditional on the row still being ``running`` under this run's claim;
    when it stops matching, another run took the job over and ``lost`` is set.
    """

    def __init__(self, engine: Engine, job_id: uuid.UUID, run_id: uuid.UUID, every: float):
        self.engine, self.job_id, self.run_id, self.every = engine, job_id, run_id, every
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop beating and wait for the thread, so no refresh lands after the run ends."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _beat(self) -> None:
        statement = heartbeat_statement(self.job_id, self.run_id)
        while not self._stop.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(statement).rowcount == 0:
                        log.warning("job %s: no longer held by this run; stopping", self.job_id)
                        self.lost.set()
                        return
            except SQLAlchemyError as exc:
                log.warning("job %s: heartbeat not recorded: %s", self.job_id, exc)


@contextmanager
def stop_requests_interrupt() -> Iterator[None]:
    """While running, a SIGTERM to this process interrupts the job (once) so it can be handed
    back; RQ's own work horse would otherwise die at once (or, as HerokuWorker, ignore it).

    Only the main thread may install signal handlers; elsewhere (the in-process queue) this
    does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise ShutDownImminentException(f"shut down requested (signal {signum})", {})

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interruption(exc: BaseException) -> tuple[bool, bool]:
    """Whether ``exc`` means the worker was stopped rather than the video being at fault, and
    whether the run should then be uncounted (a polite stop: deploy, restart, Ctrl-C).

    A decoder killed with SIGKILL (the out-of-memory killer's signal) is handed back too, but
    counted, so that a video that exhausts memory every time fails after JOB_MAX_ATTEMPTS.
    """
    if isinstance(exc, ShutDownImminentException | KeyboardInterrupt | SystemExit):
        return True, True
    if isinstance(exc, DecoderKilled):
        if exc.signal in _STOP_SIGNALS:
            return True, True
        if exc.signal == signal.SIGKILL:
            return True, False
    return False, False
