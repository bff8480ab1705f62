"""Reject phase-numbered files and folders outside .ampcode/04_PHASE_NOTES/Phase_<N>/.

Rules (one violation per path; the first matching rule in this order wins):
  phase-notes-folder  a folder directly under .ampcode/04_PHASE_NOTES/ not named Phase_<N>
  phase-test-folder   a test folder named after a phase (tests/phase16/, tests/test_phase16/)
  phase-named-path    a phase-numbered file or folder under a functional folder
  phase-doc-location  a phase document (phase-numbered name, or phase*.md) outside
                      .ampcode/04_PHASE_NOTES/Phase_<N>/
A CI workflow directly in .github/workflows/ may carry the phase it enforces: the governance
rules themselves name it .github/workflows/phase16_validation.yml.
Usage: python tools/validate_paths.py [--path DIR]
"""

import re
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `tools` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.validator_common import (
    UsageError,
    Violation,
    build_parser,
    parse_args,
    relative_posix,
    report,
    resolve_root,
    usage_error,
    walk,
)

TOOL = "validate_paths"
FUNCTIONAL_DIRS = frozenset(
    {"webapp", "jobs", "pipelines", "migrations", "tools", "tests", "bench"}
)
NOTES_DIR = (".ampcode", "04_PHASE_NOTES")
WORKFLOWS_DIR = (".github", "workflows")
TEST_DIR_NAMES = frozenset({"tests", "test"})
PHASE_NAME = re.compile(r"phase[_\- ]?\d+", re.IGNORECASE)
NOTES_FOLDER = re.compile(r"Phase_\d+")
MARKDOWN_SUFFIXES = (".md", ".markdown")

MESSAGES = {
    "phase-notes-folder": "folders under .ampcode/04_PHASE_NOTES/ must be named Phase_<N>",
    "phase-test-folder": "test folders must be named after the feature, not a phase",
    "phase-named-path": "functional code must not be named after a phase; name it for what it does",
    "phase-doc-location": "phase documents belong under .ampcode/04_PHASE_NOTES/Phase_<N>/",
}


def is_phase_named(name: str) -> bool:
    """True if a file or folder name carries a phase number (phase16, Phase_16, PHASE-16)."""
    return PHASE_NAME.search(name) is not None


def is_phase_document(name: str, is_dir: bool) -> bool:
    """True for phase-numbered names and for Markdown files whose name starts with 'phase'."""
    if is_phase_named(name):
        return True
    lowered = name.lower()
    return not is_dir and lowered.startswith("phase") and lowered.endswith(MARKDOWN_SUFFIXES)


def _in_notes_folder(parts: Sequence[str], is_dir: bool) -> bool:
    """True if the entry is a Phase_<N> notes folder or lives inside one."""
    if tuple(parts[:2]) != NOTES_DIR or len(parts) < 3:
        return False
    if not NOTES_FOLDER.fullmatch(parts[2]):
        return False
    return len(parts) > 3 or is_dir


def _is_test_folder(parts: Sequence[str]) -> bool:
    """True if a folder is a test folder: inside tests/ (or test/) or named test*."""
    inside_tests = any(p.lower() in TEST_DIR_NAMES for p in parts[:-1])
    return inside_tests or parts[-1].lower().startswith("test")


def check_path(rel: str, is_dir: bool) -> str | None:
    """Return the rule broken by the entry at posix path rel, or None if it is fine."""
    parts = rel.split("/")
    name = parts[-1]
    if tuple(parts[:2]) == NOTES_DIR and len(parts) == 3 and is_dir:
        return None if NOTES_FOLDER.fullmatch(name) else "phase-notes-folder"
    if _in_notes_folder(parts, is_dir):
        return None
    if tuple(parts[:-1]) == WORKFLOWS_DIR and not is_dir:
        return None  # CI configuration, named by the rules (phase16_validation.yml)
    if is_dir and is_phase_named(name) and _is_test_folder(parts):
        return "phase-test-folder"
    if is_phase_named(name) and parts[0] in FUNCTIONAL_DIRS:
        return "phase-named-path"
    if is_phase_document(name, is_dir):
        return "phase-doc-location"
    return None


def scan_tree(root: Path) -> list[Violation]:
    """Return all path violations under root."""
    violations: list[Violation] = []
    for current, dirnames, filenames in walk(root):
        entries = [(d, True) for d in dirnames] + [(f, False) for f in filenames]
        for name, is_dir in entries:
            rel = relative_posix(current / name, root)
            rule = check_path(rel, is_dir)
            if rule is not None:
                violations.append(Violation(rel, 1, 1, rule, MESSAGES[rule]))
    return violations


def main(argv: list[str] | None = None) -> int:
    """Run the path validator; return 0 clean, 1 violations, 2 usage error."""
    parser = build_parser(TOOL, "Reject phase-named files and misplaced phase documents.")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    try:
        root = resolve_root(args.path)
    except UsageError as exc:
        return usage_error(TOOL, str(exc))
    return report(TOOL, scan_tree(root))


if __name__ == "__main__":
    sys.exit(main())
