"""A corpus of hostile and broken uploads, each generated small with the bundled ffmpeg.

Every file either gets a 4xx at submit or ends `failed` with one human line: no 500, no job
left running, no path or heap address in the message, and no file read but the upload.
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from pipelines.errors import VideoDecodeError
from pipelines.frames import VideoFrameReader, ffmpeg_command
from pipelines.probe import DecodeLimits, probe_video
from pipelines.service import VideoFilePipelineService
from tests.conftest import submit_video
from tests.videos import FFMPEG, level_frames, make_video, write_video

_QUIET = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def _ffmpeg(*args: str) -> None:
    subprocess.run([*_QUIET, *args], check=True)


def _patch(data: bytes, box: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite bytes at ``offset`` into the payload of the first ``box`` in data."""
    at = data.index(box) + 4 + offset
    return data[:at] + value + data[at + len(value) :]


def random_bytes(tmp: Path, other: Path) -> bytes:
    return random.Random(0).randbytes(4096)


def empty(tmp: Path, other: Path) -> bytes:
    return b""


def ftyp_only(tmp: Path, other: Path) -> bytes:
    return FTYP


def truncated_index_at_end(tmp: Path, other: Path) -> bytes:
    video = write_video(tmp / "tail.mp4", level_frames(30), faststart=False)
    return video.read_bytes()[:-800]


def audio_only(tmp: Path, other: Path) -> bytes:
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(tmp / "audio.mp4"))
    return (tmp / "audio.mp4").read_bytes()


def unknown_codec(tmp: Path, other: Path) -> bytes:
    data = make_video(tmp / "codec.mp4", n_frames=5).read_bytes()
    return _patch(data, b"stsd", 12, b"zzzz")  # the sample entry's four-character code


def no_frames(tmp: Path, other: Path) -> bytes:
    data = make_video(tmp / "none.mp4", n_frames=1).read_bytes()
    return _patch(data, b"stsz", 8, bytes(4))  # sample_count = 0


def _big_frame(tmp: Path) -> bytes:
    """One 4096x2304 frame (9.4 Mpx, over the 8.3 Mpx of 4K UHD) in a few KB."""
    path = tmp / "big.mp4"
    codec = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    _ffmpeg("-f", "lavfi", "-i", "color=c=gray:size=4096x2304", "-frames:v", "1", *codec, str(path))
    return path.read_bytes()


def frame_too_large(tmp: Path, other: Path) -> bytes:
    return _big_frame(tmp)


def frame_too_large_behind_a_small_index(tmp: Path, other: Path) -> bytes:
    """The index claims 64x36; the stream itself is 4096x2304: the decoder must refuse it."""
    return _patch(_big_frame(tmp), b"stsd", 8 + 32, (64).to_bytes(2, "big") + (36).to_bytes(2))


def dash_behind_fake_ftyp(tmp: Path, other: Path) -> bytes:
    return (
        b'<!--ftypjp2 --><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        b'mediaPresentationDuration="PT10000000S"><Period><AdaptationSet mimeType="video/mp4">'
        b'<Representation id="1" bandwidth="1000"><BaseURL>file:' + bytes(other) + b"</BaseURL>"
        b'<SegmentList duration="1"><SegmentURL media="' + bytes(other) + b'"/></SegmentList>'
        b"</Representation></AdaptationSet></Period></MPD>\n"
    )


def ffconcat_behind_ftyp(tmp: Path, other: Path) -> bytes:
    return FTYP + b"\nffconcat version 1.0\nfile '" + bytes(other) + b"'\n"


def hls_behind_ftyp(tmp: Path, other: Path) -> bytes:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:" + bytes(other)
    return FTYP + b"\n" + playlist + b"\n#EXT-X-ENDLIST\n"


Maker = Callable[[Path, Path], bytes]
#: (maker, HTTP status at submit, or None if accepted; what the failure message says)
CORPUS: dict[str, tuple[Maker, int | None, str]] = {
    "random bytes": (random_bytes, 400, "not an MP4/MOV"),
    "empty": (empty, 400, "empty"),
    "ftyp header only": (ftyp_only, None, "upload the whole file"),
    "truncated, index at the end": (truncated_index_at_end, None, "+faststart"),
    "audio only": (audio_only, None, "no video track"),
    "unknown video codec": (unknown_codec, None, "codec 'zzzz'"),
    "no frames": (no_frames, None, "no frames"),
    "frame over MAX_FRAME_PIXELS": (frame_too_large, None, "MAX_FRAME_PIXELS"),
    "large frame behind a small index": (
        frame_too_large_behind_a_small_index,
        None,
        "no decodable frames",
    ),
    "DASH manifest behind <!--ftypjp2 -->": (dash_behind_fake_ftyp, 400, "not an MP4/MOV"),
    "ffconcat behind ftyp": (ffconcat_behind_ftyp, None, "not a readable MP4/MOV"),
    "HLS playlist behind ftyp": (hls_behind_ftyp, None, "not a readable MP4/MOV"),
}
_INTERNALS = re.compile(r"0x[0-9a-f]{6,}|/tmp/|Traceback|moviepy|\n")


@pytest.fixture(scope="module")
def other_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A readable video elsewhere on the server's disk that no job may ever read."""
    return make_video(tmp_path_factory.mktemp("elsewhere") / "other.mp4", n_frames=10)


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_upload_is_refused_or_fails_with_one_line(
    name: str, sqlite_app: Flask, tmp_path: Path, other_video: Path
) -> None:
    maker, refused_with, says = CORPUS[name]
    upload = tmp_path / "upload.mp4"
    upload.write_bytes(maker(tmp_path, other_video))
    client = sqlite_app.test_client()
    response = submit_video(client, upload, pipeline_id="exposure")
    if refused_with is not None:
        assert response.status_code == refused_with, response.json
        assert says in response.json["detail"]
        return
    assert response.status_code == 202 or response.status_code == 200, response.json
    job_id = response.json["job_id"]
    sqlite_app.extensions["video_queue"].join()
    status = client.get(f"/video/status/{job_id}").json
    assert status["status"] == "failed", status
    assert says in status["error_message"]
    assert not _INTERNALS.search(status["error_message"]), status["error_message"]


@pytest.mark.parametrize(
    "maker",
    [dash_behind_fake_ftyp, ffconcat_behind_ftyp, hls_behind_ftyp],
    ids=lambda m: m.__name__,
)
def test_playlists_never_read_the_file_they_name(
    maker: Maker, tmp_path: Path, other_video: Path
) -> None:
    """Straight to the decoder, past the upload check: the named video is never decoded."""
    upload = tmp_path / "upload.mp4"
    upload.write_bytes(maker(tmp_path, other_video))
    with pytest.raises(VideoDecodeError, match="MP4/MOV"):
        VideoFilePipelineService().run_on_file(upload, "exposure")
    info = probe_video(other_video)  # even given the probe of a real video, ffmpeg refuses
    command = ffmpeg_command(upload, info, (64, 48), 1, DecodeLimits().max_frame_pixels)
    done = subprocess.run(command, capture_output=True, timeout=30)
    assert done.returncode != 0 and done.stdout == b""


def test_every_ffmpeg_command_forces_the_mp4_demuxer_and_local_files(video_30: Path) -> None:
    command = ffmpeg_command(video_30, probe_video(video_30), (64, 48), 3, 100)
    before_input = command[: command.index("-i")]
    assert before_input[before_input.index("-f") :][:2] == ["-f", "mov"]
    assert "-protocol_whitelist" in before_input and "file" in before_input
    assert "-max_pixels" in before_input
    assert command[command.index("-i") + 1].startswith("file:")


def test_probe_and_decoder_read_the_same_track(tmp_path: Path) -> None:
    """A 30-frame 64x48 first track and a 1-frame 4096x2304 track marked default."""
    small = make_video(tmp_path / "small.mp4", n_frames=30)
    (tmp_path / "big.mp4").write_bytes(_big_frame(tmp_path))
    both = tmp_path / "both.mp4"
    _ffmpeg(
        "-i", str(small), "-i", str(tmp_path / "big.mp4"), "-map", "0:v", "-map", "1:v",
        "-c", "copy", "-disposition:v:0", "0", "-disposition:v:1", "default", str(both),
    )  # fmt: skip
    results = VideoFilePipelineService().run_on_file(both, "exposure")
    assert [r["frame_index"] for r in results] == list(range(30))
    expected = level_frames(30)[:, 0, 0, 0] / 255
    for result, level in zip(results, expected, strict=True):
        assert result["result"]["brightness"] == pytest.approx(level, abs=0.01)


def test_limits_on_frames_and_duration_are_checked_from_the_index(video_30: Path) -> None:
    service = VideoFilePipelineService(limits=DecodeLimits(max_job_frames=10))
    with pytest.raises(VideoDecodeError, match="MAX_JOB_FRAMES"):
        service.iter_on_file(video_30, "exposure").__next__()
    assert len(service.run_on_file(video_30, "exposure", max_frames=5)) == 5
    assert len(service.run_on_file(video_30, "exposure", frame_stride=3, max_frames=3)) == 3
    short = VideoFilePipelineService(limits=DecodeLimits(max_video_seconds=0.5))
    with pytest.raises(VideoDecodeError, match="MAX_VIDEO_SECONDS"):
        short.run_on_file(video_30, "exposure")
    assert len(short.run_on_file(video_30, "exposure", max_frames=10)) == 10


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_FRAME_PIXELS", "1000")
    monkeypatch.setenv("MAX_JOB_FRAMES", "7")
    monkeypatch.delenv("MAX_VIDEO_SECONDS", raising=False)
    assert DecodeLimits.from_env() == DecodeLimits(1000, 6 * 3600, 7)
    monkeypatch.setenv("MAX_JOB_FRAMES", "-1")
    with pytest.raises(ValueError, match="MAX_JOB_FRAMES"):
        DecodeLimits.from_env()


def test_reader_refuses_a_large_frame_before_starting_ffmpeg(tmp_path: Path) -> None:
    (tmp_path / "big.mp4").write_bytes(_big_frame(tmp_path))
    with pytest.raises(VideoDecodeError, match="4096x2304"):
        VideoFrameReader(tmp_path / "big.mp4")
    small_limit = DecodeLimits(max_frame_pixels=4096 * 2304)
    with VideoFrameReader(tmp_path / "big.mp4", max_side=160, limits=small_limit) as reader:
        frames = list(reader.frames())
    assert [f.pixels.shape for f in frames] == [(90, 160, 3)]
