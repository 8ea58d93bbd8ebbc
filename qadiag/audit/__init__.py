"""``qadiag audit-logs``: read finished runs' log files and apply the probes' rules offline.

Data flows one way: :mod:`~qadiag.audit.discover` finds the log sources under the given directories,
each reader in :mod:`~qadiag.audit.readers` turns a source into one stream of
:class:`~qadiag.audit.records.LogRow` (plus the run settings it found and the problems it met, as
findings), :mod:`~qadiag.audit.rules` applies the shared metric-key rules per source and compares the
sources of one run, and :mod:`~qadiag.audit.command` prints the report.

Importing this package imports neither torch, transformers nor wandb: the wandb protobufs load only
when a ``.wandb`` file is read, the TensorBoard ones only when an event file is.
"""
