"""Errors raised by the pipeline layer; their messages are shown to clients as they are."""


class PipelineError(Exception):
    """Base class: anything that stops a pipeline run, with a one-line human message."""


class UnknownPipelineError(PipelineError):
    """The requested pipeline id has no definition."""


class PipelineDefinitionError(PipelineError):
    """A pipeline JSON file is malformed or names things the registry does not have."""


class VideoDecodeError(PipelineError):
    """The video cannot be opened or the decoder failed part-way."""
