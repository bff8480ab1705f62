"""Pure-Python video analysis: a path and a pipeline id in, a list of per-frame dicts out.

Import ``pipelines.service`` for the video runner and ``pipelines.engine`` for the
definitions; this package imports neither, so the web tier never loads the video stack.
"""
