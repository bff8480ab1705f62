"""Shared helpers for the repository governance validators in tools/."""

import argparse
import fnmatch
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2

# Directory names never walked into, at any depth (mirrors .gitignore and tool caches).
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        "data",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".tox",
    }
)


@dataclass(frozen=True, order=True)
class Violation:
    """One finding, rendered as `path:line:col: rule: text`."""

    path: str
    line: int
    col: int
    rule: str
    text: str

    def format(self) -> str:
        """Return the canonical single-line rendering of the violation."""
        return f"{self.path}:{self.line}:{self.col}: {self.rule}: {self.text}"

    def __str__(self) -> str:
        return self.format()


class UsageError(Exception):
    """Bad arguments, a missing directory or a malformed configuration file."""


def repo_root() -> Path:
    """Return the repository root: the parent of the tools/ folder."""
    return Path(__file__).resolve().parent.parent


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Return an argument parser with the shared `--path DIR` option."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--path",
        metavar="DIR",
        default=None,
        help="root of the tree to check (default: the repository containing this tool)",
    )
    return parser


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace | int:
    """Parse argv, returning the namespace or the exit code argparse asked for."""
    try:
        return parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 on --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def resolve_root(path_arg: str | None) -> Path:
    """Return the directory to scan, raising UsageError if it does not exist."""
    if path_arg is None:
        return repo_root()
    root = Path(path_arg).expanduser()
    if not root.is_dir():
        raise UsageError(f"--path {path_arg!r} is not an existing directory")
    return root.resolve()


def relative_posix(path: Path, root: Path) -> str:
    """Return `path` relative to `root` with posix separators."""
    return path.relative_to(root).as_posix()


def walk(start: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """Yield os.walk triples in sorted order, pruning IGNORED_DIRS and symlinked dirs."""
    for dirpath, dirnames, filenames in os.walk(start):
        current = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in IGNORED_DIRS and not (current / d).is_symlink()
        )
        yield current, dirnames, sorted(filenames)


def matches_glob(rel_path: str, patterns: Iterable[str]) -> bool:
    """True if rel_path, or one of its parent folders, matches any fnmatch glob."""
    pure = PurePosixPath(rel_path)
    candidates = [rel_path, *(p.as_posix() for p in pure.parents if p.as_posix() != ".")]
    return any(fnmatch.fnmatchcase(c, pat) for pat in patterns for c in candidates)


def report(tool: str, violations: Iterable[Violation]) -> int:
    """Print violations to stdout, a summary to stderr, and return the exit code."""
    found = sorted(set(violations))
    for violation in found:
        print(violation.format())
    if found:
        print(f"{tool}: {len(found)} violation(s) found", file=sys.stderr)
        return EXIT_VIOLATIONS
    print(f"{tool}: OK", file=sys.stderr)
    return EXIT_OK


def usage_error(tool: str, message: str) -> int:
    """Print a usage error to stderr and return the usage exit code."""
    print(f"{tool}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
