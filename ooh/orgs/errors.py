"""Errors raised when organisation data fails validation.

Staff who maintain scripts and rotas are not Python developers: every error must say which file,
which field and what is wrong, so they can fix the data without reading a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError


class ConfigError(Exception):
    """One or more problems found in organisation data.

    Attributes:
        problems: Human-readable lines, each ``<file>: <field>: <what is wrong>``.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    @classmethod
    def single(cls, path: Path | str, field: str, message: str) -> ConfigError:
        """Build an error for one problem in one field of one file."""
        return cls([format_problem(path, field, message)])


def format_problem(path: Path | str, field: str, message: str) -> str:
    """Format one problem the same way everywhere: ``file: field: message``."""
    return f"{path}: {field or '(file)'}: {message}"


def field_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as staff read it: ``shifts[3].stage2``."""
    text = ""
    for part in loc:
        if part == "__root__":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_problems(exc: ValidationError, path: Path | str, prefix: str = "") -> list[str]:
    """One ``file: field: message`` line per invalid field, under ``prefix`` (``options.noise``)."""
    problems = []
    for error in exc.errors():
        where = field_path(tuple(error["loc"]))
        full = f"{prefix}.{where}" if prefix and where else (prefix or where)
        problems.append(format_problem(path, full, error["msg"]))
    return problems
