"""Scratch folders for running jobs, under the service's own WORK_DIR, swept when left behind.

Each job copies its upload into ``WORK_DIR/video-job-<job id>-<random>/`` and holds an
exclusive ``flock`` on a file inside it for as long as it runs. The kernel drops that lock
when the process ends, however it ends (SIGKILL included), so a sweep can tell a folder
left by a dead process (lock free) from one in use (lock held) without guessing from
ages or process ids. Only folders on this machine are involved.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "video-job-"
_HELD = ".in-use"
_GRACE_SECONDS = 60


@contextmanager
def job_workdir(root: str | Path, job_id: str) -> Iterator[Path]:
    """Create the job's folder under ``root``, hold it while the block runs, then remove it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{job_id}-", dir=root))
    fd = os.open(path / _HELD, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _in_use(path: Path) -> bool:
    """True while a live process holds the folder; False if its owner is gone."""
    try:
        fd = os.open(path / _HELD, os.O_RDWR)
    except FileNotFoundError:
        # Just made and not yet held (a moment), or left by an older version of the service.
        try:
            return time.time() - path.stat().st_mtime < _GRACE_SECONDS
        except FileNotFoundError:
            return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also releases the lock if we just took it
    return False


def sweep_workdir(root: str | Path, job_id: str | None = None) -> list[str]:
    """Remove job folders under ``root`` whose process is gone (only ``job_id``'s if given)."""
    root = Path(root)
    if not root.is_dir():
        return []
    prefix = f"{PREFIX}{job_id}-" if job_id else PREFIX
    removed = []
    for path in sorted(root.iterdir()):
        if not path.name.startswith(prefix) or not path.is_dir() or path.is_symlink():
            continue
        if _in_use(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    if removed:
        log.info("removed %d job folders left by stopped processes in %s", len(removed), root)
    return removed
