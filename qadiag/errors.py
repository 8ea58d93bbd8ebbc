"""Every exception and warning qadiag raises, in one family.

:class:`QadiagError` is the base: a problem with the user's input, setup or code that qadiag can
explain in one line naming the file and record, with a fix. The command line prints it and exits 2;
the pytest plugin turns it into a usage error or a failed item. The subclasses say which side the
problem is on, so callers can catch exactly what they expect.
"""

from __future__ import annotations

from typing import Any


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

    @property
    def message(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = f"{self.source}"
            if self.record is not None:
                where += f", record {self.record}"
            where += ": "
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{where}{self.message}{fix}"


class ConfigError(QadiagError):
    """``[tool.qadiag]``, a command-line flag or a ``module:callable`` that cannot be used."""


class InputError(QadiagError):
    """A data file, model directory, output dir or checkpoint that cannot be used as given."""


class UnknownCodeError(QadiagError, KeyError):
    """A finding code that is not in :data:`qadiag.findings.CODES` (a bug in qadiag or a plugin)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return QadiagError.__str__(self)


class UnknownCheckError(ConfigError):
    """A probe or check name that is not registered."""


class DeclaredLossError(QadiagError):
    """The loss the user declared raised when recomputed on outputs the Trainer already computed."""


class UserCodeCrashed(QadiagError):
    """The user's code raised while qadiag ran it; ``finding`` says where, why and how to fix it."""

    def __init__(self, finding: Any) -> None:
        super().__init__(finding.message, source=finding.source, fix=finding.fix)
        self.finding = finding


class FindingsFailed(QadiagError):
    """Error-level findings of one ``pytest --qadiag`` item (its failure); ``headline`` is the first one."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(text)
        self.headline = headline

    def __str__(self) -> str:
        return self.message


class QadiagWarning(UserWarning):
    """A warning-level finding: shown, and a failure only in strict mode."""
