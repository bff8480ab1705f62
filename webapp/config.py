"""Configuration from environment variables, with defaults that run with nothing installed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data")
QUEUE_NAME = "video_jobs"


def normalise_database_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` and plain ``postgresql://``, always driving psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


class ConfigError(ValueError):
    """A setting in the environment that cannot be used; the message names the variable."""


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, not {raw!r}")


def default_database_url() -> str:
    """The embedded SQLite file used when DATABASE_URL is unset (one process only)."""
    return "sqlite:///" + str((DEFAULT_DATA_DIR / "video_jobs.sqlite3").resolve())


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if raw not in _LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, not {raw[:40]!r}")
    return raw


def _file_mode(env: Mapping[str, str]) -> int:
    raw = env.get("STORAGE_FILE_MODE", "").strip() or "0600"
    try:
        mode = int(raw, 8)
    except ValueError:
        mode = -1
    if not 0o400 <= mode <= 0o666 or not mode & 0o600 == 0o600:
        raise ConfigError(
            f"STORAGE_FILE_MODE must be an octal mode from 0600 to 0666, not {raw[:40]!r}"
        )
    return mode


def _tokens(env: Mapping[str, str]) -> tuple[str, ...]:
    tokens = tuple(t.strip() for t in env.get("API_TOKENS", "").split(",") if t.strip())
    if any(len(t) < 16 or not t.isascii() or not t.isprintable() or " " in t for t in tokens):
        raise ConfigError("API_TOKENS must be comma-separated printable tokens of 16+ characters")
    return tokens


def config_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the settings the README's configuration table lists; ConfigError names a bad one."""
    env = os.environ if env is None else env
    default_db = default_database_url()
    max_upload_mb = _positive_int(env, "MAX_UPLOAD_MB", 1024)
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(env.get("DATABASE_URL") or default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "STORAGE_URL": env.get("STORAGE_URL") or str(DEFAULT_DATA_DIR / "video_jobs"),
        "MAX_UPLOAD_MB": max_upload_mb,
        "JOB_TIMEOUT": _positive_int(env, "JOB_TIMEOUT", 3600),
        "QUEUE_NAME": env.get("QUEUE_NAME") or QUEUE_NAME,
        **reliability_settings(env),
        **hygiene_settings(env),
        "LOG_LEVEL": _log_level(env),
        "POLL_INTERVAL": _positive_int(env, "POLL_INTERVAL", 2),
        "STORAGE_FILE_MODE": _file_mode(env),
        "API_TOKENS": _tokens(env),
    }


def hygiene_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Where jobs keep scratch files, whether uploads outlive their job, how long to retry."""
    return {
        "WORK_DIR": env.get("WORK_DIR") or str((DEFAULT_DATA_DIR / "work").resolve()),
        "KEEP_UPLOADS": _flag(env, "KEEP_UPLOADS"),
        "DB_RETRY_SECONDS": _positive_int(env, "DB_RETRY_SECONDS", 60),
    }


def check_queue_mode(config: Mapping[str, Any]) -> None:
    """Refuse RQ on the embedded SQLite default: web and workers would each use their own file."""
    if config.get("REDIS_URL") and config["SQLALCHEMY_DATABASE_URI"] == default_database_url():
        raise ValueError(
            "REDIS_URL is set but DATABASE_URL is not: web and workers need the same "
            "PostgreSQL database (set DATABASE_URL for both)"
        )


def reliability_settings(env: Mapping[str, str]) -> dict[str, int]:
    """How often a running job shows it is alive, when it counts as lost, how often it runs."""
    settings = {
        "HEARTBEAT_SECONDS": _positive_int(env, "HEARTBEAT_SECONDS", 5),
        "HEARTBEAT_STALE_SECONDS": _positive_int(env, "HEARTBEAT_STALE_SECONDS", 30),
        "JOB_MAX_ATTEMPTS": _positive_int(env, "JOB_MAX_ATTEMPTS", 3),
    }
    if settings["HEARTBEAT_STALE_SECONDS"] < 2 * settings["HEARTBEAT_SECONDS"]:
        raise ConfigError("HEARTBEAT_STALE_SECONDS must be at least twice HEARTBEAT_SECONDS")
    return settings


def config_from_env_or_exit() -> dict[str, Any]:
    """For entry points (flask, gunicorn, alembic, rq): one line naming the bad setting, exit 1."""
    try:
        return config_from_env()
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a file-based SQLite database, so a fresh clone just runs."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.endswith(":memory:") and len(url) > len(prefix):
        Path(url[len(prefix) :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
