"""The registry of readers: one entry per log format.

Each reader (a :class:`~qadiag.audit.readers.base.Reader`) claims paths, groups them into
:class:`~qadiag.audit.records.Source` objects and reads a source as a stream of rows and settings,
reporting problems out of band. Discovery, the "looked for" text, :data:`SourceKind` and the order in
which sources of one run are compared (the first listed is the reference) all come from
:data:`READERS`: a new format is one module and one entry here.

Readers stream (memory does not grow with the file), open nothing but regular files
(:mod:`qadiag.audit.files`), never unpickle anything, and never raise for a bad file.
"""

from __future__ import annotations

import enum

from qadiag.audit.readers import mlflow, tensorboard, trainer_state, wandb
from qadiag.audit.readers.base import Reader

READERS: list[Reader] = [trainer_state.READER, wandb.READER, tensorboard.READER, mlflow.READER]


def reader_for(kind: str) -> Reader:
    for reader in READERS:
        if reader.kind == kind:
            return reader
    raise KeyError(f"no reader of kind {kind!r} is registered in qadiag.audit.readers.READERS")


def looked_for() -> str:
    """What audit-logs looks for, in words, in registry order."""
    return ", ".join(reader.looked_for for reader in READERS)


class _Kind(str, enum.Enum):
    def __str__(self) -> str:
        return self.value


SourceKind = _Kind("SourceKind", {reader.kind.upper(): reader.kind for reader in READERS})
"""The kinds of the readers registered when this module was imported (``SourceKind.WANDB == "wandb"``)."""
