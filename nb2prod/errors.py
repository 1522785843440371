"""One exception hierarchy for every way nb2prod can refuse or fail.

Each exception carries notebook coordinates (path, cell index, line inside the cell), a hint that names
the fix, and the exit code the CLI maps it to (click's ``exit_code`` habit). They pickle, because parity
jobs run in other processes and their errors come back across that boundary.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_EXECUTION_FAILED = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM, e.g. a cancelled CI job (128 + SIGTERM)


class Nb2ProdError(Exception):
    """Root of nb2prod's errors; the CLI shows ``str(err)`` and exits with ``err.exit_code``."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        cell: int | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = path
        self.cell = cell
        self.line = line
        self.hint = hint
        super().__init__(self.message)

    @property
    def location(self) -> str:
        """``notebooks/x.ipynb, cell 4, line 2`` (cells are 0-based, as nbformat counts them)."""
        parts = [self.path] if self.path else []
        if self.cell is not None:
            parts.append(f"cell {self.cell}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return ", ".join(parts)

    @property
    def message(self) -> str:
        text = f"{self.location}: {self.reason}" if self.location else self.reason
        if self.hint:
            text += f" Hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[Nb2ProdError], state: dict[str, Any]) -> Nb2ProdError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err.message)
    return err


class UsageError(Nb2ProdError):
    """The command line or configuration asks for something that cannot be done."""


class ConfigError(UsageError):
    """``[tool.nb2prod]`` in pyproject.toml is invalid."""


class NotebookError(Nb2ProdError):
    """The file is not a notebook nb2prod can read (bad JSON, schema, format, kernel language)."""


class TagError(Nb2ProdError):
    """A cell's tags or ``#|`` directives break the tag grammar."""


class AnalysisError(Nb2ProdError):
    """The cells' code cannot become a pipeline: syntax, shell escapes, data-flow holes or cycles."""


class VersionError(Nb2ProdError):
    """A version, CURRENT pointer or manifest is missing or inconsistent."""


class ExecutionError(Nb2ProdError):
    """The notebook or the generated pipeline raised, the kernel died, or a cell timed out."""

    exit_code = EXIT_EXECUTION_FAILED

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        cell: int | None = None,
        line: int | None = None,
        hint: str | None = None,
        source: str | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ) -> None:
        self.source = source
        self.ename = ename
        self.evalue = evalue
        super().__init__(reason, path=path, cell=cell, line=line, hint=hint)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while a notebook cell ran, with the cell named.

    Deliberately a ``KeyboardInterrupt``, not an ``Nb2ProdError``: no ``except Exception`` on the way
    up may swallow a user's Ctrl-C. The CLI shows it and exits 130.
    """

    exit_code = EXIT_INTERRUPTED

    def __init__(self, path: str, cell: int | None, others: tuple[str, ...] = ()) -> None:
        self.path = path
        self.cell = cell
        self.others = others
        what = f"{path}, cell {cell}" if cell is not None else path
        verb = "was running" if cell is not None or others else "was starting"
        also = f" (and {', '.join(others)})" if others else ""
        super().__init__(f"{what}{also} {verb}; kernels were stopped and nothing was compared.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.cell, self.others))


class ModelError(Nb2ProdError):
    """The model store has no such model, card or production marker, or a card is unreadable."""


class ArtefactTampered(Nb2ProdError):
    """A saved model or its sidecar files no longer match the sha256 in its card: refused."""

    exit_code = EXIT_CHECK_FAILED


class SerialisationError(Nb2ProdError):
    """A fitted object cannot be saved, or does not load back (custom class, lambda)."""

    exit_code = EXIT_CHECK_FAILED


class ServeError(Nb2ProdError):
    """``serve`` or ``bundle`` cannot start: no production model to serve, a bundle folder in the way."""
