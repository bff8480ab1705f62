"""Run a pipeline over the frames of a video file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.engine import DEFINITIONS_DIR, Pipeline, load_pipelines
from pipelines.errors import UnknownPipelineError
from pipelines.frames import VideoFrameReader
from pipelines.probe import DecodeLimits


def _plain(value: Any) -> Any:
    """Turn numpy scalars into Python numbers so results are JSON-serialisable."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


class VideoFilePipelineService:
    """A path and a pipeline id in, ``[{"frame_index": int, "result": dict}]`` out."""

    def __init__(
        self, definitions_dir: Path = DEFINITIONS_DIR, limits: DecodeLimits | None = None
    ) -> None:
        self._pipelines = load_pipelines(definitions_dir)
        self.limits = limits or DecodeLimits.from_env()

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        """Return the compiled pipeline or raise UnknownPipelineError."""
        try:
            return self._pipelines[pipeline_id]
        except KeyError:
            raise UnknownPipelineError(f"unknown pipeline_id {pipeline_id!r}") from None

    def iter_on_file(
        self,
        mp4_path: str | Path,
        pipeline_id: str,
        frame_stride: int = 1,
        max_frames: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each kept frame's result as it is made, so no job holds all of them."""
        pipeline = self.get_pipeline(pipeline_id)
        job_run = pipeline.start()  # this job's own state, never shared with another job
        with VideoFrameReader(mp4_path, frame_stride, pipeline.max_side, self.limits) as reader:
            for frame in reader.frames(max_frames):
                output = job_run.run(frame.pixels, frame.index)
                result = {"timestamp_ms": frame.timestamp_ms, **output}
                yield {"frame_index": frame.index, "result": _plain(result)}

    def run_on_file(
        self,
        mp4_path: str | Path,
        pipeline_id: str,
        frame_stride: int = 1,
        max_frames: int | None = None,
    ) -> list[dict[str, Any]]:
        """Decode the video, run the pipeline on every kept frame, and return the results."""
        return list(self.iter_on_file(mp4_path, pipeline_id, frame_stride, max_frames))
