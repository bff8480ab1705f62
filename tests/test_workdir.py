"""Scratch folders under WORK_DIR: a killed process's folder is swept, a live one's is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from jobs.workdir import job_workdir, sweep_workdir

REPO = Path(__file__).resolve().parent.parent
HOLD = """
import sys, time
from jobs.workdir import job_workdir
with job_workdir(sys.argv[1], sys.argv[2]) as path:
    (path / "input.mp4").write_bytes(b"x" * 100_000)  # the copy of the upload
    print(path, flush=True)
    time.sleep(120)
"""


def _holder(root: Path, job_id: str) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), job_id],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return proc, Path(proc.stdout.readline().strip())


def test_a_killed_job_folder_is_swept_when_a_worker_starts(tmp_path: Path) -> None:
    root = tmp_path / "work"
    killed, killed_dir = _holder(root, "job-killed")
    alive, alive_dir = _holder(root, "job-alive")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert (killed_dir / "input.mp4").exists()  # SIGKILL left the copy behind
        env = {
            **os.environ,
            "WORK_DIR": str(root),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STORAGE_URL": str(tmp_path / "storage"),
            "PYTHONPATH": str(REPO),
        }
        env.pop("REDIS_URL", None)
        started = subprocess.run(  # what `rq worker -c jobs.worker_settings` imports first
            [sys.executable, "-c", "import jobs.worker_settings"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert started.returncode == 0, started.stderr
        assert not killed_dir.exists()
        assert (alive_dir / "input.mp4").exists()  # a live job's folder is never touched
    finally:
        alive.kill()
        alive.wait()
        for proc in (killed, alive):
            proc.stdout.close()
    assert sweep_workdir(root) == [alive_dir.name]  # now its owner is gone too
    assert list(root.iterdir()) == []


def test_a_job_folder_is_removed_when_the_job_ends(tmp_path: Path) -> None:
    with job_workdir(tmp_path, "job-1") as path:
        assert path.parent == tmp_path and path.name.startswith("video-job-job-1-")
        assert sweep_workdir(tmp_path) == []  # held: not swept
    assert list(tmp_path.iterdir()) == []
