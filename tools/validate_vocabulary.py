"""Reject forbidden concepts (WebSockets, SSE, streaming, ...) in functional code.

Rules, scanned extensions and exceptions live in tools/forbidden_vocabulary.yaml.
Usage: python tools/validate_vocabulary.py [--path DIR] [--config FILE]
"""

import itertools
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `tools` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from tools.validator_common import (
    UsageError,
    Violation,
    build_parser,
    matches_glob,
    parse_args,
    relative_posix,
    report,
    resolve_root,
    usage_error,
    walk,
)

TOOL = "validate_vocabulary"
DEFAULT_CONFIG = Path(__file__).resolve().parent / "forbidden_vocabulary.yaml"
DEFAULT_SCAN_PATHS = ("webapp", "jobs", "pipelines")
NEVER_SCANNED = ("tools",)
CONFIG_KEYS = frozenset({"scan_paths", "extensions", "exclude_paths", "allow", "rules"})
RULE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
BARRIER = " / "
BINARY_SNIFF = 8192
_ALNUM_RUN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Rule:
    """A named forbidden concept with its compiled patterns."""

    name: str
    message: str
    patterns: tuple[re.Pattern[str], ...]
    raw_patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Config:
    """The parsed forbidden-vocabulary configuration."""

    source: Path
    rules: tuple[Rule, ...]
    extensions: frozenset[str]
    scan_paths: tuple[str, ...]
    exclude_paths: tuple[str, ...]
    allow: dict[str, tuple[str, ...]]


def _char_kind(ch: str) -> str:
    if ch.isdigit():
        return "D"
    return "U" if ch.isupper() else "L"


def split_identifier(token: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the words in an alphanumeric run (camel/digit split)."""
    kinds = [_char_kind(ch) for ch in token]
    bounds = [0]
    for i in range(1, len(token)):
        prev, cur = kinds[i - 1], kinds[i]
        camel = prev == "L" and cur == "U"
        digit = (prev == "D") != (cur == "D")
        acronym_end = prev == "U" and cur == "U" and i + 1 < len(token) and kinds[i + 1] == "L"
        if camel or digit or acronym_end:
            bounds.append(i)
    bounds.append(len(token))
    return list(itertools.pairwise(bounds))


def normalise(line: str) -> tuple[str, list[int]]:
    """Return the lowercase word view of a line and, per character, its original column."""
    out: list[str] = []
    index: list[int] = []
    prev_end: int | None = None
    for run in _ALNUM_RUN.finditer(line):
        for start, end in split_identifier(run.group()):
            start, end = start + run.start(), end + run.start()
            if prev_end is not None:
                gap = line[prev_end:start]
                soft = all(ch in "_-" or ch.isspace() for ch in gap)
                sep = " " if soft else BARRIER
                out.append(sep)
                index.extend([start] * len(sep))
            for offset, ch in enumerate(line[start:end]):
                lowered = ch.lower()
                out.append(lowered)
                index.extend([start + offset] * len(lowered))
            prev_end = end
    return "".join(out), index


def find_matches(line: str, rules: Sequence[Rule]) -> list[tuple[Rule, int, int]]:
    """Return (rule, start, end) original-column spans of forbidden words in one line."""
    norm, index = normalise(line)
    found: list[tuple[Rule, int, int]] = []
    for rule in rules:
        spans: list[tuple[int, int]] = []
        for pattern in rule.patterns:
            for m in pattern.finditer(norm):
                if m.end() > m.start():
                    spans.append((index[m.start()], index[m.end() - 1] + 1))
        for pattern in rule.raw_patterns:
            spans.extend((m.start(), m.end()) for m in pattern.finditer(line) if m.group())
        last_end = -1
        for start, end in sorted(spans):
            if start >= last_end:  # overlapping hits of one rule count once
                found.append((rule, start, end))
                last_end = end
    return found


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _compile(patterns: tuple[str, ...], where: str, wrap: bool) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        source = rf"\b(?:{pattern})\b" if wrap else pattern
        try:
            compiled.append(re.compile(source, re.IGNORECASE))
        except re.error as exc:
            raise UsageError(f"{where}: invalid regex {pattern!r}: {exc}") from exc
    return tuple(compiled)


def _parse_rule(name: Any, body: Any) -> Rule:
    if not isinstance(name, str) or not RULE_NAME.fullmatch(name):
        raise UsageError(f"rule name {name!r} must be lowercase letters, digits and dashes")
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        raise UsageError(f"rules.{name} must be a mapping with a string 'message'")
    unknown = set(body) - {"message", "patterns", "raw_patterns"}
    if unknown:
        raise UsageError(f"rules.{name}: unknown keys {sorted(unknown)}")
    patterns = _string_list(body.get("patterns"), f"rules.{name}.patterns")
    raw = _string_list(body.get("raw_patterns"), f"rules.{name}.raw_patterns")
    if not patterns and not raw:
        raise UsageError(f"rules.{name} has no patterns")
    return Rule(
        name=name,
        message=body["message"].strip(),
        patterns=_compile(patterns, f"rules.{name}.patterns", wrap=True),
        raw_patterns=_compile(raw, f"rules.{name}.raw_patterns", wrap=False),
    )


def _relative_folders(value: Any, where: str) -> tuple[str, ...]:
    folders = _string_list(value, where)
    for folder in folders:
        pure = PurePosixPath(folder)
        if pure.is_absolute() or ".." in pure.parts:
            raise UsageError(f"{where}: {folder!r} must be relative to the scanned root")
    return tuple(PurePosixPath(f).as_posix() for f in folders)


def load_config(path: Path) -> Config:
    """Load and validate the forbidden-vocabulary yaml, raising UsageError if malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {str(path)!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"config {str(path)!r} is not valid yaml: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config {str(path)!r} must be a mapping")
    unknown = set(data) - CONFIG_KEYS
    if unknown:
        raise UsageError(f"config has unknown keys {sorted(unknown)}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, dict) or not raw_rules:
        raise UsageError("config 'rules' must be a non-empty mapping")
    rules = tuple(_parse_rule(name, body) for name, body in raw_rules.items())
    extensions = _string_list(data.get("extensions"), "extensions")
    if not extensions or not all(e.startswith(".") for e in extensions):
        raise UsageError("'extensions' must be a non-empty list like ['.py', '.md']")
    allow: dict[str, tuple[str, ...]] = {}
    raw_allow = data.get("allow") or []
    if not isinstance(raw_allow, list):
        raise UsageError("'allow' must be a list of {rule, paths} mappings")
    for entry in raw_allow:
        if not isinstance(entry, dict) or set(entry) != {"rule", "paths"}:
            raise UsageError(f"allow entry {entry!r} must have exactly 'rule' and 'paths'")
        if entry["rule"] not in raw_rules:
            raise UsageError(f"allow entry names unknown rule {entry['rule']!r}")
        paths = _string_list(entry["paths"], f"allow[{entry['rule']}].paths")
        allow[entry["rule"]] = allow.get(entry["rule"], ()) + paths
    return Config(
        source=path.resolve(),
        rules=rules,
        extensions=frozenset(e.lower() for e in extensions),
        scan_paths=_relative_folders(data.get("scan_paths"), "scan_paths"),
        exclude_paths=_string_list(data.get("exclude_paths"), "exclude_paths"),
        allow=allow,
    )


def iter_files(root: Path, config: Config) -> Iterator[Path]:
    """Yield the text files under the scan folders of root, each once, in sorted order."""
    seen: set[Path] = set()
    for folder in dict.fromkeys((*DEFAULT_SCAN_PATHS, *config.scan_paths)):
        start = root / folder
        if start.is_file():
            candidates: Iterator[Path] = iter([start])
        elif start.is_dir():
            candidates = (d / f for d, _, files in walk(start) for f in files)
        else:
            continue
        for path in candidates:
            rel = relative_posix(path, root)
            if path in seen or path.suffix.lower() not in config.extensions:
                continue
            if rel.split("/")[0] in NEVER_SCANNED or path.resolve() == config.source:
                continue
            if matches_glob(rel, config.exclude_paths):
                continue
            seen.add(path)
            yield path


def read_lines(path: Path) -> list[str] | None:
    """Return the file's lines, or None if it looks binary."""
    data = path.read_bytes()
    if b"\x00" in data[:BINARY_SNIFF]:
        return None
    return [line.rstrip("\r") for line in data.decode("utf-8", errors="replace").split("\n")]


def scan_file(path: Path, rel: str, config: Config) -> list[Violation]:
    """Return the vocabulary violations of one file."""
    lines = read_lines(path)
    if lines is None:
        return []
    rules = [r for r in config.rules if not matches_glob(rel, config.allow.get(r.name, ()))]
    violations = []
    for lineno, line in enumerate(lines, start=1):
        for rule, start, end in find_matches(line, rules):
            snippet = line[start:end]
            text = f"forbidden term '{snippet}': {rule.message}"
            violations.append(Violation(rel, lineno, start + 1, rule.name, text))
    return violations


def scan_tree(root: Path, config: Config) -> list[Violation]:
    """Return all vocabulary violations under root."""
    violations: list[Violation] = []
    for path in iter_files(root, config):
        violations.extend(scan_file(path, relative_posix(path, root), config))
    return violations


def main(argv: list[str] | None = None) -> int:
    """Run the vocabulary validator; return 0 clean, 1 violations, 2 usage error."""
    parser = build_parser(TOOL, "Reject forbidden concepts in functional code.")
    parser.add_argument("--config", metavar="FILE", default=None, help="alternative yaml")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    try:
        root = resolve_root(args.path)
        config = load_config(Path(args.config) if args.config else DEFAULT_CONFIG)
    except UsageError as exc:
        return usage_error(TOOL, str(exc))
    return report(TOOL, scan_tree(root, config))


if __name__ == "__main__":
    sys.exit(main())
