"""Analysis plugins: plain functions on numpy arrays, listed in ``pipelines.registry``."""
