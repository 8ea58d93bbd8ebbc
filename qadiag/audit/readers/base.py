"""What every reader shares: read-only opening, and the QD9xx findings for what it met in a file.

Every problem names the file and the byte offset where reading went wrong, and says what to do.
Readers never raise for a bad file: they yield these findings and read on where they can.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from qadiag.findings import Finding, finding

READ_CHUNK = 1 << 20
# Reports of the same kind per file before the rest are summed up in one finding.
MAX_REPORTS_PER_FILE = 10


class Problems:
    """Reader findings for one file, capped so that a file of garbage gives a few findings, not thousands."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.counts: dict[str, int] = {}
        self.first_offset: dict[str, int | None] = {}

    def report(self, code: str, message: str, fix: str, *, offset: int | None = None) -> Iterator[Finding]:
        seen = self.counts.get(code, 0)
        self.counts[code] = seen + 1
        if seen == 0:
            self.first_offset[code] = offset
        if seen < MAX_REPORTS_PER_FILE:
            yield finding(code, message, fix, source=self.file, offset=offset)

    def summary(self) -> Iterator[Finding]:
        """One finding per code that went past the cap, with the total count."""
        for code, count in self.counts.items():
            if count > MAX_REPORTS_PER_FILE:
                yield finding(
                    code,
                    f"{count - MAX_REPORTS_PER_FILE} more problems like the {MAX_REPORTS_PER_FILE} above "
                    f"({count} in all) in this file",
                    "the file is damaged throughout: recover it from a backup, or re-create it by re-running",
                    source=self.file,
                    offset=self.first_offset[code],
                )

    def unreadable(self, error: OSError) -> Iterator[Finding]:
        reason = error.strerror or str(error)
        if error.errno in (errno.EACCES, errno.EPERM):
            fix = (
                f"make it readable for this user (e.g. `chmod u+r {self.file}`) or run the audit as its owner"
            )
        elif error.errno == errno.EISDIR:
            fix = "a directory stands where the log file should be: remove or rename it"
        else:
            fix = "check that the file exists and that its storage is mounted and healthy"
        yield from self.report("QD901", f"cannot read the file: {reason}", fix)

    def truncated(self, what: str, offset: int) -> Iterator[Finding]:
        yield from self.report(
            "QD902",
            f"the file ends inside {what} at byte {offset}: the run was probably killed while writing it; "
            "everything before that point was read",
            "nothing to fix if the run crashed; if it finished, the file was cut short (disk full, copy "
            "interrupted): copy it again from the machine that ran it",
            offset=offset,
        )

    def corrupt(self, what: str, offset: int, resumed: str) -> Iterator[Finding]:
        yield from self.report(
            "QD903",
            f"{what} at byte {offset}; {resumed}",
            "the bytes were damaged after writing (bad disk, partial copy): copy the file again from the "
            "machine that ran it; the records around the damage were still read",
            offset=offset,
        )

    def malformed_json(self, what: str, offset: int) -> Iterator[Finding]:
        yield from self.report(
            "QD904",
            f"{what} at byte {offset}",
            "the file was written by something other than the Trainer or was edited by hand: restore it "
            "from a checkpoint copy (checkpoint-*/trainer_state.json holds the history up to that step)",
            offset=offset,
        )

    def impossible_length(
        self, what: str, claimed: int, limit: int, offset: int, resumed: str
    ) -> Iterator[Finding]:
        yield from self.report(
            "QD905",
            f"{what} at byte {offset} claims {claimed:,} bytes, more than the {limit:,} that can be there; "
            f"it was not read into memory; {resumed}",
            "the length field is damaged: copy the file again from the machine that ran it",
            offset=offset,
        )

    def unsupported(self, what: str, fix: str, *, offset: int | None = None) -> Iterator[Finding]:
        yield from self.report("QD906", what, fix, offset=offset)

    def empty(self, what: str) -> Iterator[Finding]:
        yield from self.report(
            "QD907",
            f"the file is empty: {what}",
            "if the run is still starting or was killed at once, there is nothing to audit; otherwise the "
            "copy lost the content: copy it again",
        )

    def wrong_format(self, expected: str, found: bytes) -> Iterator[Finding]:
        yield from self.report(
            "QD908",
            f"this is not {expected}: it starts with {found[:16]!r}",
            "point the audit at the run directory as the logger wrote it; a file renamed or overwritten "
            "with other content cannot be audited",
            offset=0,
        )
