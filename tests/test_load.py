"""#6.11 in small: 24 submissions from 8 clients while a worker is SIGKILLed and restarted.

The full run (200 submissions, 16 clients) is `bench/bench_load.py`; both use tests/load.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.service import VideoFilePipelineService
from tests.faults import stacks
from tests.load import make_camera_like, run_load

pytestmark = pytest.mark.integration


def test_load_with_a_worker_killed_loses_nothing(redis_url: str, tmp_path: Path) -> None:
    video = make_camera_like(tmp_path / "camera.mp4", seconds=1, width=320, height=240)
    expected = VideoFilePipelineService().run_on_file(video, "frame_stats", 1, None)
    with stacks(redis_url, tmp_path) as (stack,):
        report = run_load(stack, video, expected, submissions=24, clients=8, deadline=120)
    print(f"load: {report.summary()}")
    assert report.submitted == 24 and report.refused == 0
    assert report.lost == 0 and report.stuck == 0
    assert report.statuses["completed"] == 24, report.summary()
    assert report.completed_twice == 0
    assert report.rerun <= 1  # at most the job the killed worker had in hand
    assert report.wrong_results == 0
