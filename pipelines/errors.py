"""Errors raised by the pipeline layer; their messages are shown to clients as they are."""


class PipelineError(Exception):
    """Base class: anything that stops a pipeline run, with a one-line human message."""


class UnknownPipelineError(PipelineError):
    """The requested pipeline id has no definition."""


class PipelineDefinitionError(PipelineError):
    """A pipeline JSON file is malformed or names things the registry does not have."""


class VideoDecodeError(PipelineError):
    """The video cannot be opened or the decoder failed part-way."""


class DecoderKilled(VideoDecodeError):
    """The decoder process was ended by a signal (``signal``), which says nothing of the video."""

    def __init__(self, signal: int, frame_index: int) -> None:
        super().__init__(f"the decoder was killed (signal {signal}) at frame {frame_index}")
        self.signal = signal
