"""Errors meant for the user: one line that names the file and record, never a traceback."""

from __future__ import annotations


class QadiagError(Exception):
    """A problem with the user's input or setup; the CLI prints it on one line and exits 2."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        record: str | int | None = None,
        fix: str | None = None,
    ) -> None:
        self.source = source
        self.record = record
        self.fix = fix
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}"
            if self.record is not None:
                where += f", record {self.record}"
            where += ": "
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{self.args[0]}{fix}"
