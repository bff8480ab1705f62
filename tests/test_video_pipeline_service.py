"""VideoFilePipelineService on real generated videos: frames are real, counted and closed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from pipelines.engine import PipelineRun
from pipelines.errors import UnknownPipelineError, VideoDecodeError
from pipelines.frames import VideoFrameReader
from pipelines.service import VideoFilePipelineService
from tests.videos import level_frames, write_video


@pytest.fixture(scope="module")
def service() -> VideoFilePipelineService:
    return VideoFilePipelineService()


def _ffmpeg_children() -> list[int]:
    """Live ffmpeg processes whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"ffmpeg" in cmdline:
            found.append(int(entry.name))
    return found


def test_every_frame_in_order_with_its_own_grey_level(
    service: VideoFilePipelineService, video_30: Path
) -> None:
    results = service.run_on_file(video_30, "exposure")
    assert [r["frame_index"] for r in results] == list(range(30))
    expected = level_frames(30)[:, 0, 0, 0] / 255
    for result, level in zip(results, expected, strict=True):
        assert result["result"]["brightness"] == pytest.approx(level, abs=0.01)
    assert results[3]["result"]["timestamp_ms"] == pytest.approx(100.0)


def test_stride_and_max_frames(service: VideoFilePipelineService, video_30: Path) -> None:
    results = service.run_on_file(video_30, "frame_stats", frame_stride=3, max_frames=4)
    assert [r["frame_index"] for r in results] == [0, 3, 6, 9]
    whole = service.run_on_file(video_30, "frame_stats")
    assert [r["result"] for r in results] == [whole[i]["result"] for i in (0, 3, 6, 9)]
    assert [r["frame_index"] for r in service.run_on_file(video_30, "exposure", 7)] == [
        0,
        7,
        14,
        21,
        28,
    ]
    assert len(service.run_on_file(video_30, "exposure", 1, 100)) == 30


def test_same_file_same_numbers_and_plain_json(
    service: VideoFilePipelineService, video_30: Path
) -> None:
    first = service.run_on_file(video_30, "frame_stats")
    assert json.loads(json.dumps(first, allow_nan=False)) == first
    assert service.run_on_file(video_30, "frame_stats") == first


def test_truncated_upload_ends_at_its_last_real_frame(
    service: VideoFilePipelineService, video_30: Path, tmp_path: Path
) -> None:
    data = video_30.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    results = service.run_on_file(truncated, "exposure")
    assert 0 < len(results) < 30
    assert [r["frame_index"] for r in results] == list(range(len(results)))
    levels = [r["result"]["brightness"] for r in results]
    assert len(set(levels)) == len(levels), "a repeated frame was reported"


def test_file_truncated_before_its_index_fails_with_a_message(
    service: VideoFilePipelineService, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "tail_index.mp4", level_frames(30), faststart=False)
    video.write_bytes(video.read_bytes()[:-800])
    with pytest.raises(VideoDecodeError, match="moov") as info:
        service.run_on_file(video, "exposure")
    assert "upload the whole file" in str(info.value) and "+faststart" in str(info.value)
    assert "\n" not in str(info.value) and str(tmp_path) not in str(info.value)


def test_killed_decoder_fails_the_attempt(tmp_path: Path) -> None:
    video = write_video(tmp_path / "long.mp4", level_frames(200, 320, 240))
    with VideoFrameReader(video) as reader, pytest.raises(VideoDecodeError, match="killed"):
        for frame in reader.frames():
            if frame.index == 2:
                os.kill(reader.proc.pid, signal.SIGKILL)
    assert _ffmpeg_children() == []


def test_not_a_video_fails_with_a_message(
    service: VideoFilePipelineService, tmp_path: Path
) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    with pytest.raises(VideoDecodeError):
        service.run_on_file(fake, "exposure")


def test_unknown_pipeline(service: VideoFilePipelineService, video_30: Path) -> None:
    with pytest.raises(UnknownPipelineError, match="nope"):
        service.run_on_file(video_30, "nope")


def test_decoder_is_closed_when_a_plugin_fails(
    service: VideoFilePipelineService, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def exploding_run(frame: object) -> dict:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("plugin broke")
        return {}

    monkeypatch.setattr(PipelineRun, "run", lambda self, frame, index: exploding_run(frame))
    with pytest.raises(RuntimeError, match="plugin broke"):
        service.run_on_file(video_30, "exposure")
    assert _ffmpeg_children() == []


def test_an_interruption_while_opening_is_not_reported_as_a_bad_video(
    video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job timeout that fires while ffmpeg probes the file must stay a timeout."""
    from rq.timeouts import JobTimeoutException

    def probe_interrupted(*args: object, **kwargs: object) -> None:
        raise JobTimeoutException("Task exceeded maximum timeout value (1 seconds)")

    monkeypatch.setattr("pipelines.frames.probe_video", probe_interrupted)
    with pytest.raises(JobTimeoutException):
        VideoFrameReader(video_30)


def test_variable_frame_rate_frames_are_reported_once_with_their_own_times(
    service: VideoFilePipelineService, tmp_path: Path
) -> None:
    """Frames 0-9 last 2/30 s each, 10-29 last 1/30 s: 30 frames, none repeated."""
    video = write_video(
        tmp_path / "vfr.mp4",
        level_frames(30),
        extra=["-vf", "setpts='if(lt(N,10),2*N,N+10)/(30*TB)'", "-fps_mode", "vfr"],
    )
    results = service.run_on_file(video, "exposure")
    assert [r["frame_index"] for r in results] == list(range(30))
    expected = level_frames(30)[:, 0, 0, 0] / 255
    for result, level in zip(results, expected, strict=True):
        assert result["result"]["brightness"] == pytest.approx(level, abs=0.01)
    times = [r["result"]["timestamp_ms"] for r in results]
    assert times[:3] == pytest.approx([0.0, 66.667, 133.333], abs=0.01)
    assert times[10:13] == pytest.approx([666.667, 700.0, 733.333], abs=0.01)
    strided = service.run_on_file(video, "exposure", frame_stride=4)
    assert [r["frame_index"] for r in strided] == [0, 4, 8, 12, 16, 20, 24, 28]
    assert [r["result"] for r in strided] == [results[i]["result"] for i in range(0, 30, 4)]


def test_a_stream_with_no_frames_fails_with_a_message(
    service: VideoFilePipelineService, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "one.mp4", level_frames(1))
    data = bytearray(video.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 4 :] = bytes(len(data) - mdat - 4)  # keep the index, zero every sample
    broken = tmp_path / "zeroed.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match="no decodable frames"):
        service.run_on_file(broken, "exposure")


def test_without_ffmpeg_frame_times_it_falls_back_once_not_per_frame(
    service: VideoFilePipelineService, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If ffmpeg's log ever lacks the times, frames get index/fps and the wait is paid once."""
    import re
    import time

    monkeypatch.setattr("pipelines.frames._SHOWINFO", re.compile(r"never matches^"))
    monkeypatch.setattr("pipelines.frames._PTS_WAIT_SECONDS", 0.3)
    started = time.monotonic()
    results = service.run_on_file(video_30, "exposure")
    assert time.monotonic() - started < 3  # 30 frames x 0.3 s would be 9 s
    assert [r["result"]["timestamp_ms"] for r in results[:3]] == [0.0, 33.333, 66.667]


def test_a_rotated_video_comes_upright_at_the_pipeline_size(tmp_path: Path) -> None:
    """The probe reads the track's display matrix: frames arrive turned, as ffmpeg turns them."""
    import subprocess

    from tests.videos import FFMPEG

    video = write_video(tmp_path / "wide.mp4", level_frames(3, width=64, height=48))
    turned = tmp_path / "turned.mp4"
    quiet = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [*quiet, "-display_rotation", "90", "-i", str(video), "-c", "copy", str(turned)], check=True
    )
    with VideoFrameReader(turned) as reader:
        assert [f.pixels.shape for f in reader.frames()] == [(64, 48, 3)] * 3
    with VideoFrameReader(turned, max_side=32) as reader:
        assert [f.pixels.shape for f in reader.frames()] == [(32, 24, 3)] * 3
