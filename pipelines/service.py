"""Run a pipeline over the frames of a video file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.engine import DEFINITIONS_DIR, Pipeline, load_pipelines
from pipelines.errors import UnknownPipelineError
from pipelines.frames import VideoFrameReader


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

    def __init__(self, definitions_dir: Path = DEFINITIONS_DIR) -> None:
        self._pipelines = load_pipelines(definitions_dir)

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        """Return the compiled pipeline or raise UnknownPipelineError."""
        try:
            return self._pipelines[pipeline_id]
        except KeyError:
            raise UnknownPipelineError(f"unknown pipeline_id {pipeline_id!r}") from None

    def run_on_file(
        self,
        mp4_path: str | Path,
        pipeline_id: str,
        frame_stride: int = 1,
        max_frames: int | None = None,
    ) -> list[dict[str, Any]]:
        """Decode the video, run the pipeline on every kept frame, and return the results."""
        pipeline = self.get_pipeline(pipeline_id)
        results: list[dict[str, Any]] = []
        with VideoFrameReader(mp4_path, frame_stride) as reader:
            for frame in reader.frames(max_frames):
                result = {"timestamp_ms": frame.timestamp_ms, **pipeline.run(frame.pixels)}
                results.append({"frame_index": frame.index, "result": _plain(result)})
        return results
