"""Grep the application source for a rule that must be written in one place only."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "ledger", "policy", "reserve")


def occurrences(pattern: str, *, allowed: tuple[str, ...] = (), apps: tuple[str, ...] = APPS) -> list[str]:
    """`path:line: text` of every match of `pattern` in the apps' Python sources, skipping
    migrations (frozen history) and the paths in `allowed` (files, or folders ending in /)."""
    regex = re.compile(pattern)
    found = []
    for app in apps:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or any(
                relative == place or (place.endswith("/") and relative.startswith(place)) for place in allowed
            ):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if regex.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    return found
