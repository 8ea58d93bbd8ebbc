"""One reader per log source kind; each turns a :class:`~qadiag.audit.records.Source` into a stream of
:class:`~qadiag.audit.records.LogRow`, :class:`~qadiag.audit.records.Setting` and QD9xx findings.

Readers stream (memory does not grow with the file), open files read-only, never unpickle anything,
and never raise for a bad file: what they cannot read becomes a finding with the file and byte offset.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from qadiag.audit.records import Item, Source, SourceKind

_MODULES = {
    SourceKind.TRAINER_STATE: "qadiag.audit.readers.trainer_state",
    SourceKind.WANDB: "qadiag.audit.readers.wandb",
    SourceKind.TENSORBOARD: "qadiag.audit.readers.tensorboard",
    SourceKind.MLFLOW: "qadiag.audit.readers.mlflow",
}


def read(source: Source) -> Iterator[Item]:
    """The reader for the source's kind (imported on first use: wandb and TensorBoard protos are heavy)."""
    return importlib.import_module(_MODULES[source.kind]).read(source)
