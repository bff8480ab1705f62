"""app.json, .python-version and the systemd examples agree with the Procfile and the README."""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def procfile_types() -> set[str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return {line.split(":", 1)[0].strip() for line in lines if re.match(r"^\w+:", line)}


def configuration_table_names() -> list[str]:
    """The backticked names in the first column of the README's configuration table."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\|\s*`([A-Z0-9_*]+)`", section, re.MULTILINE)


def test_app_json_forms_the_procfile_processes() -> None:
    app = json.loads((REPO / "app.json").read_text())
    running = procfile_types() - {"release"}  # Heroku runs release once per deploy, not a dyno
    assert set(app["formation"]) == running, (
        "app.json's formation must name every Procfile process type except release"
    )
    assert all(spec["quantity"] >= 1 for spec in app["formation"].values())
    plans = [addon["plan"].split(":")[0] for addon in app["addons"]]
    assert plans == ["heroku-postgresql", "heroku-redis"]
    assert app["buildpacks"] == [{"url": "heroku/python"}]


def test_every_app_json_variable_is_in_the_configuration_table() -> None:
    app = json.loads((REPO / "app.json").read_text())
    table = configuration_table_names()
    assert "DATABASE_URL" in table and "REDIS_URL" in table
    for name, spec in app["env"].items():
        assert any(fnmatch.fnmatchcase(name, pattern) for pattern in table), (
            f"{name} is in app.json but not in the README's configuration table"
        )
        assert len(spec["description"]) > 20, f"{name} needs a description"


def test_python_version_matches_the_interpreter_family() -> None:
    version = (REPO / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version)
    major, minor = (int(part) for part in version.split("."))
    assert (major, minor) >= (3, 11)
    assert sys.version_info[:2] >= (3, 11)


def fixed_words(command: str) -> list[str]:
    """A command's words without variables or quotes: what a unit must run in the same order."""
    words = [w.strip("'\"").removeprefix("/opt/video-jobs/.venv/bin/") for w in command.split()]
    return [w for w in words if w and "$" not in w and not w.startswith("--bind")]


def test_systemd_units_run_the_procfile_commands() -> None:
    units = REPO / "docs" / "systemd"
    lines = (REPO / "Procfile").read_text().splitlines()
    procfile = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in lines if ":" in line}
    web = (units / "video-jobs-web.service").read_text()
    assert "ExecStartPre=/opt/video-jobs/.venv/bin/" + procfile["release"].strip() in web
    for kind, command in procfile.items():
        if kind == "release":
            continue
        unit = next(units.glob(f"video-jobs-{kind}*.service"), None)
        assert unit is not None, f"docs/systemd has no unit for the Procfile's {kind!r}"
        text = unit.read_text()
        assert "EnvironmentFile=/etc/video-jobs/env" in text and "[Install]" in text
        start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
        words, position = fixed_words(start), 0
        for word in fixed_words(command):
            assert word in words[position:], f"{unit.name} does not run {word!r} as the Procfile"
            position = words.index(word, position) + 1
