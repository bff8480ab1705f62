"""Keep pyproject.toml and uv.lock in step with the pinned requirements files.

The requirements files are the source: pip and Heroku read them, and people edit them.

    requirements.txt          -> [project] dependencies
    requirements-dev.txt      -> [dependency-groups] dev      (its `-r requirements.txt` skipped)
    requirements-models.txt   -> [dependency-groups] models   (only when the file exists)

`python3 tools/dev.py lock` rewrites those lists in pyproject.toml, then runs `uv lock`.
`problems()` says where the files disagree; tests/test_dependencies.py fails on any.
Standard library only, so tools/dev.py can import it before any virtualenv exists.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: requirements file -> (pyproject table, key) that mirrors it.
SOURCES: dict[str, tuple[str, str]] = {
    "requirements.txt": ("project", "dependencies"),
    "requirements-dev.txt": ("dependency-groups", "dev"),
    "requirements-models.txt": ("dependency-groups", "models"),
}
PROJECT_NAME = "video-jobs"
REGENERATE = "python3 tools/dev.py lock"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


@dataclass(frozen=True)
class Requirement:
    """One requirement line: its normalised name, extras and version specifier."""

    name: str
    extras: tuple[str, ...]
    specifier: str
    text: str

    @property
    def pinned_version(self) -> str | None:
        """The version of an exact `==` pin (no markers), else None."""
        match = re.fullmatch(r"==\s*([^\s,;]+)", self.specifier)
        return match.group(1) if match else None


def normalise_name(name: str) -> str:
    """PEP 503 normalised project name (Flask-SQLAlchemy -> flask-sqlalchemy)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> Requirement:
    """Parse `name[extras]==1.2 ; marker` into a Requirement."""
    match = _NAME.match(text)
    if not match:
        raise ValueError(f"not a requirement: {text!r}")
    extras = tuple(sorted(e.strip() for e in (match.group(2) or "[]")[1:-1].split(",") if e))
    spec = re.sub(r"\s+", "", match.group(3))
    return Requirement(normalise_name(match.group(1)), extras, spec, text.strip())


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements of one file, without comments, options and `-r` includes."""
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        found.append(parse_requirement(line))
    return found


def wanted_lists(repo: Path = REPO) -> dict[tuple[str, str], list[str]]:
    """(table, key) -> the requirement strings pyproject.toml must hold, from the files."""
    return {
        target: [r.text for r in read_requirements(repo / name)]
        for name, target in SOURCES.items()
        if (repo / name).is_file()
    }


def _pyproject(repo: Path) -> dict:
    return tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))


def _as_set(items: Iterable[Requirement]) -> set[tuple[str, tuple[str, ...], str]]:
    return {(r.name, r.extras, r.specifier) for r in items}


def _lock_packages(lock: dict) -> tuple[dict, dict[str, str]]:
    """The lock's entry for this project, and every locked package's version by name."""
    packages = lock.get("package", [])
    root = next((p for p in packages if p.get("name") == PROJECT_NAME), {})
    versions = {normalise_name(p["name"]): p["version"] for p in packages if "version" in p}
    return root, versions


def _locked_requirements(entries: Iterable[dict]) -> set[tuple[str, tuple[str, ...], str]]:
    return {
        (normalise_name(e["name"]), tuple(sorted(e.get("extras", []))), e.get("specifier", ""))
        for e in entries
    }


def problems(repo: Path = REPO) -> list[str]:
    """Every disagreement between the requirements files, pyproject.toml and uv.lock."""
    found: list[str] = []
    project = _pyproject(repo)
    wanted = wanted_lists(repo)
    lock_path = repo / "uv.lock"
    lock = tomllib.loads(lock_path.read_text(encoding="utf-8")) if lock_path.is_file() else {}
    root, locked = _lock_packages(lock)
    if not lock:
        found.append("uv.lock is missing")
    elif not root:
        found.append(f"uv.lock has no entry for the project {PROJECT_NAME!r}")
    metadata = root.get("metadata", {})
    for name, (table, key) in SOURCES.items():
        declared = project.get(table, {}).get(key)
        if (table, key) not in wanted:
            if declared is not None:
                found.append(f"pyproject.toml [{table}] {key} exists but {name} does not")
            continue
        from_file = _as_set(parse_requirement(t) for t in wanted[(table, key)])
        in_pyproject = _as_set(parse_requirement(t) for t in declared or [])
        for item in sorted(from_file - in_pyproject):
            found.append(f"{name} has {_show(item)}; pyproject.toml [{table}] {key} does not")
        for item in sorted(in_pyproject - from_file):
            found.append(f"pyproject.toml [{table}] {key} has {_show(item)}; {name} does not")
        if not root:
            continue
        recorded = (
            metadata.get("requires-dist", [])
            if table == "project"
            else metadata.get("requires-dev", {}).get(key, [])
        )
        if _locked_requirements(recorded) != in_pyproject:
            found.append(f"uv.lock was locked for another [{table}] {key}")
        for req in read_requirements(repo / name):
            version = req.pinned_version
            if version and req.name in locked and locked[req.name] != version:
                found.append(f"{name} pins {req.name}=={version}; uv.lock has {locked[req.name]}")
            elif version and req.name not in locked:
                found.append(f"{name} pins {req.name}=={version}; uv.lock does not have it")
    return found


def _show(item: tuple[str, tuple[str, ...], str]) -> str:
    name, extras, spec = item
    return f"{name}{'[' + ','.join(extras) + ']' if extras else ''}{spec}"


def _toml_list(items: list[str]) -> str:
    return "[\n" + "".join(f'    "{item}",\n' for item in items) + "]"


def render_pyproject(text: str, wanted: dict[tuple[str, str], list[str]]) -> str:
    """pyproject.toml's text with the mirrored lists replaced, added or removed."""
    for table, key in dict.fromkeys(SOURCES.values()):
        header = re.compile(rf"^\[{re.escape(table)}\][ \t]*\n", re.MULTILINE)
        existing = re.compile(rf"^{re.escape(key)} = \[.*?^\]\n", re.MULTILINE | re.DOTALL)
        section = header.search(text)
        items = wanted.get((table, key))
        if section is None:
            if items is not None:
                text = text.rstrip("\n") + f"\n\n[{table}]\n{key} = {_toml_list(items)}\n"
            continue
        end = re.compile(r"^\[", re.MULTILINE).search(text, section.end())
        stop = end.start() if end else len(text)
        body = text[section.end() : stop]
        match = existing.search(body)
        line = f"{key} = {_toml_list(items)}\n" if items is not None else ""
        if match:
            body = body[: match.start()] + line + body[match.end() :]
        elif line:
            kept = body.rstrip("\n")
            body = (kept + "\n" if kept else "") + line + ("\n" if end else "")
        text = text[: section.end()] + body + text[stop:]
    return text


def write_pyproject(repo: Path = REPO) -> bool:
    """Rewrite pyproject.toml's mirrored lists from the requirements files; True if changed."""
    path = repo / "pyproject.toml"
    old = path.read_text(encoding="utf-8")
    new = render_pyproject(old, wanted_lists(repo))
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
