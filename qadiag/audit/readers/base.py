"""What every reader shares: the reader protocol, the per-file problem sink, and reading values safely.

A reader (:class:`Reader`) declares its kind, which paths it claims (file names, directory layouts),
how claimed paths group into sources, and how to read one source. ``read`` yields only typed records
(:class:`~qadiag.audit.records.LogRow`, :class:`~qadiag.audit.records.Setting`); what goes wrong is
reported out of band into :class:`Problems`, one sink per file, which :class:`ReadLog` hands out and
which keeps at most :data:`MAX_REPORTS_PER_FILE` findings of one code per file (then a count).

Readers never raise for a bad file: every problem names the file and the byte offset where reading
went wrong, and says what to do. Should a reader fail anyway, :meth:`ReadLog.reading` turns the
exception into a QD910 finding for that one file and the reader goes on with the next.
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from qadiag.audit import REPORT_BUGS_AT
from qadiag.audit.files import Entry, NotRegularFile, TooDeepTree
from qadiag.audit.records import LogRow, Setting, Source
from qadiag.findings import Finding, finding
from qadiag.formats.locations import directory_source

READ_CHUNK = 1 << 20
# Reports of the same kind per file before the rest are summed up in one finding.
MAX_REPORTS_PER_FILE = 10
# Longest piece of an exception's text quoted in a QD910 finding.
MAX_QUOTED_ERROR = 200
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
Record = LogRow | Setting


# -- the protocol ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryClaim:
    """What a reader makes of a directory the walk enters.

    ``group``: the directory is itself read as (part of) a source with this key (an MLflow run);
    ``output_dir``: the training output dir this directory shows (sources below it belong to it);
    ``skip``: sub-directories the walk must not enter (a claimed directory's own parts).
    """

    group: Hashable | None = None
    output_dir: Path | None = None
    skip: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Part:
    """A piece of one file of a source, read on its own (in parallel with the other pieces): the records that
    start in bytes ``[start, stop)`` of ``source.files[file]`` (``stop`` None: to the end of the file)."""

    file: int
    start: int
    stop: int | None


@dataclass
class Seam:
    """Where a part's first record is and where the next part's first record is (None: the end of the
    file): consecutive parts join exactly when one's ``stop`` is the next one's ``start``."""

    start: Any = None
    stop: Any = None


@dataclass(frozen=True)
class Layout:
    """What the walk learnt about the tree, for readers that place their sources by it."""

    output_dirs: Sequence[Path] = ()


class Reader:
    """One log format. Subclasses set ``kind`` and ``looked_for``, claim paths (``file_names``, or
    override :meth:`claim_file` / :meth:`claim_directory`), may override :meth:`group` and
    :meth:`sources`, and implement :meth:`read`. Registering the instance in
    :data:`qadiag.audit.readers.READERS` is all discovery, the run grouping and the rules need.
    """

    kind: ClassVar[str]
    #: How the "nothing auditable" message names what this reader reads.
    looked_for: ClassVar[str]
    #: Names of the files this reader reads (full match), when a name is enough to tell.
    file_names: ClassVar[re.Pattern[str] | None] = None

    def claim_file(self, directory: Path, name: str) -> Hashable | None:
        """The group (source) a file of this name in ``directory`` belongs to; None: not this reader's."""
        if self.file_names is not None and self.file_names.fullmatch(name):
            return self.group(directory, name)
        return None

    def group(self, directory: Path, name: str) -> Hashable:
        """Files with the same group are read as one source; by default, the files of one directory."""
        return directory

    def claim_directory(self, directory: Path, entries: Sequence[Entry]) -> DirectoryClaim | None:
        return None

    def sources(self, groups: Mapping[Hashable, Sequence[Path]], layout: Layout, log: ReadLog) -> Iterable[Source]:
        """One source per group: its files in name order, named after and belonging to its directory."""
        for group, files in sorted(groups.items(), key=lambda item: str(item[0])):
            directory = Path(str(group))
            yield Source(self.kind, str(directory), tuple(sorted(files)), directory)

    def parts(self, source: Source, pieces: int) -> list[Part] | None:
        """The parts to read ``source`` in, in order, when ``pieces`` processes can read it faster than one;
        None: read it whole. A reader that splits sets ``log.seam`` when it reads a part."""
        return None

    def read(self, source: Source, log: ReadLog, part: Part | None = None) -> Iterator[Record]:
        """Rows and settings of one source (or of one of its :meth:`parts`); problems go to ``log`` (use
        ``with log.reading(path)``)."""
        raise NotImplementedError


# -- problems, out of band ------------------------------------------------------------------------


class Problems:
    """The reader findings for one file, bounded: a file of garbage gives a few findings, not thousands.

    ``locate``, set by a reader of a text file, turns a byte offset into ``(line, column)`` so that its
    findings carry the line (None where it is not known).
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.kept: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.first_offset: dict[str, int | None] = {}
        self.locate: Callable[[int], tuple[int, int] | None] | None = None

    def add(self, code: str, message: str, fix: str, *, offset: int | None = None, **where: Any) -> None:
        seen = self.counts.get(code, 0)
        self.counts[code] = seen + 1
        if seen == 0:
            self.first_offset[code] = offset
        if seen < MAX_REPORTS_PER_FILE:
            if offset is not None and self.locate is not None and "line" not in where:
                place = self.locate(offset)
                if place is not None:
                    where["line"], where["column"] = place
            self.kept.append(finding(code, message, fix, source=self.file, offset=offset, **where))

    def findings(self) -> list[Finding]:
        """What was kept, and one finding per code that went past the cap, with the total count."""
        summaries = [
            finding(
                code,
                f"{count - MAX_REPORTS_PER_FILE} more problems like the {MAX_REPORTS_PER_FILE} above "
                f"({count} in all) in this file",
                "the file is damaged throughout: recover it from a backup, or re-create it by re-running",
                source=self.file,
                offset=self.first_offset[code],
            )
            for code, count in self.counts.items()
            if count > MAX_REPORTS_PER_FILE
        ]
        return self.kept + summaries

    # -- the wordings every reader shares ---------------------------------------------------------

    def unreadable(self, error: OSError, *, what: str = "the file") -> None:
        if isinstance(error, NotRegularFile):
            self.not_regular(error.what)
            return
        if isinstance(error, TooDeepTree):
            self.add(
                "QD911",
                f"{error.strerror}: the directories below were not searched",
                "pass the deeper directory that holds the logs to audit-logs itself",
            )
            return
        reason = error.strerror or str(error)
        if error.errno in (errno.EACCES, errno.EPERM):
            fix = f"make it readable for this user (e.g. `chmod u+r {self.file}`) or run the audit as its owner"
        elif error.errno == errno.EISDIR:
            fix = "a directory stands where the log file should be: remove or rename it"
        else:
            fix = "check that the file exists and that its storage is mounted and healthy"
        self.add("QD901", f"cannot read {what}: {reason}", fix)

    def not_regular(self, what: str) -> None:
        self.add(
            "QD909",
            f"{what} stands where a log is expected: it was not opened (audit-logs never follows links "
            "and never opens FIFOs, sockets or devices in a run directory)",
            "keep the logs themselves in the run directory; if they live elsewhere, pass that directory "
            "to audit-logs",
        )

    def truncated(self, what: str, offset: int) -> None:
        self.add(
            "QD902",
            f"the file ends inside {what} at byte {offset}: the run was probably killed while writing it; "
            "everything before that point was read",
            "nothing to fix if the run crashed; if it finished, the file was cut short (disk full, copy "
            "interrupted): copy it again from the machine that ran it",
            offset=offset,
        )

    def corrupt(self, what: str, offset: int, resumed: str, **where: Any) -> None:
        self.add(
            "QD903",
            f"{what} at byte {offset}; {resumed}",
            "the bytes were damaged after writing (bad disk, partial copy): copy the file again from the "
            "machine that ran it; the records around the damage were still read",
            offset=offset,
            **where,
        )

    def malformed_json(self, what: str, offset: int) -> None:
        self.add(
            "QD904",
            f"{what} at byte {offset}",
            "the file was written by something other than the Trainer or was edited by hand: restore it "
            "from a checkpoint copy (checkpoint-*/trainer_state.json holds the history up to that step)",
            offset=offset,
        )

    def impossible_length(self, what: str, claimed: int, limit: int, offset: int, resumed: str) -> None:
        self.add(
            "QD905",
            f"{what} at byte {offset} claims {claimed:,} bytes, more than the {limit:,} that can be there; "
            f"it was not read into memory; {resumed}",
            "the length field is damaged: copy the file again from the machine that ran it",
            offset=offset,
        )

    def unsupported(self, what: str, fix: str, *, offset: int | None = None) -> None:
        self.add("QD906", what, fix, offset=offset)

    def empty(self, what: str) -> None:
        self.add(
            "QD907",
            f"the file is empty: {what}",
            "if the run is still starting or was killed at once, there is nothing to audit; otherwise the "
            "copy lost the content: copy it again",
        )

    def wrong_format(self, expected: str, found: bytes) -> None:
        self.add(
            "QD908",
            f"this is not {expected}: it starts with {found[:16]!r}",
            "point the audit at the run directory as the logger wrote it; a file renamed or overwritten "
            "with other content cannot be audited",
            offset=0,
        )

    def too_deep(self, what: str, offset: int | None, resumed: str) -> None:
        self.add(
            "QD911",
            f"{what} is JSON nested deeper than qadiag decodes; {resumed}",
            "no logger writes values nested this deep: the file was crafted or damaged; re-create it by "
            "re-running, or copy it again from the machine that ran it",
            offset=offset,
        )

    def over_budget(self, what: str, fix: str, *, offset: int | None = None) -> None:
        self.add("QD911", what, fix, offset=offset)

    def bad_value(self, what: str, *, offset: int | None = None, **where: Any) -> None:
        self.add(
            "QD912",
            what,
            "steps are whole numbers and metrics are numbers in every logger: the file was edited or "
            "written by something else; fix the value, or ignore QD912 if the rest of the audit is enough",
            offset=offset,
            **where,
        )

    def crashed(self, error: BaseException) -> None:
        text = str(error)
        if len(text) > MAX_QUOTED_ERROR:
            text = text[:MAX_QUOTED_ERROR] + "..."
        self.add(
            "QD910",
            f"qadiag could not read this file: internal error ({type(error).__name__}: {text}); the rest "
            "of the file was not audited, the other files were",
            f"this is a bug in qadiag, not in your run: please report it at {REPORT_BUGS_AT} with this "
            "message and `qadiag --version`",
        )


@dataclass
class ReadLog:
    """The problems met while reading one source (or discovering sources), one :class:`Problems` per file."""

    _files: dict[str, Problems] = field(default_factory=dict)
    current: str | None = None
    seam: Seam = field(default_factory=Seam)

    def file(self, path: Path | str) -> Problems:
        return self._sink(str(path))

    def directory(self, path: Path | str) -> Problems:
        """The sink for problems of a directory itself (one that cannot be listed, or is too deep): named
        with a trailing separator, so that formats never present it as a file."""
        return self._sink(directory_source(path))

    def _sink(self, name: str) -> Problems:
        self.current = name
        problems = self._files.get(name)
        if problems is None:
            problems = self._files[name] = Problems(name)
        return problems

    @contextmanager
    def reading(self, path: Path | str, *, directory: bool = False) -> Iterator[Problems]:
        """The sink for one file (or a directory read as one source); an exception while reading it
        becomes a QD910 finding for it (and reading goes on after the ``with`` block: the reader's next
        file)."""
        problems = self.directory(path) if directory else self.file(path)
        try:
            yield problems
        except Exception as error:  # a bug in a reader: the other files and sources are still read
            problems.crashed(error)

    def findings(self) -> list[Finding]:
        return [item for problems in self._files.values() for item in problems.findings()]


# -- values from disk -----------------------------------------------------------------------------


class TooDeep(Exception):
    """JSON nested deeper than the decoder can go (deliberately not a ValueError: callers that turn
    a ValueError into "not JSON, keep the text" must report this instead)."""


def _integer(digits: str) -> int | float:
    """``int()`` refuses more than 4,300 digits (CPython's guard against quadratic conversion): a number
    that long is read as the float it is (infinite), so a 10**5000 in a log is data, not a crash."""
    return int(digits) if len(digits) <= 4000 else float(digits)


_DECODER = json.JSONDecoder(parse_int=_integer)


def raw_decode(text: str, start: int) -> tuple[Any, int]:
    """``json.JSONDecoder.raw_decode`` with the rules of :func:`decode_json`."""
    try:
        return _DECODER.raw_decode(text, start)
    except RecursionError:
        raise TooDeep from None


def decode_json(text: str) -> Any:
    """``json.loads`` for text from disk: bare ``NaN``/``Infinity`` accepted, integers too long for
    ``int()`` read as floats, nesting too deep for the decoder raised as :class:`TooDeep`; ValueError
    for anything that is not JSON."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise TooDeep from None


def whole_step(value: Any) -> int | None:
    """The step ``value`` stands for: an integer, or a float with an integral value (``-0.0`` is 0),
    within int64 as every logger stores steps; None for anything else (NaN, 1e400, text, null...)."""
    if type(value) is int:
        return value if INT64_MIN <= value <= INT64_MAX else None
    if type(value) is float and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    return None


def describe_value(value: Any) -> str:
    """A short, bounded description of a value from disk, for messages."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else "an integer too large"
    else:
        text = repr(value) if isinstance(value, (str, bytes, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
