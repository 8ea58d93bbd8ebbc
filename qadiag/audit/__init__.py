"""``qadiag audit-logs``: read finished runs' log files and apply the probes' rules offline.

Data flows one way: :mod:`~qadiag.audit.discover` walks the directories and asks each registered
reader (:data:`qadiag.audit.readers.READERS`) which paths it claims and how they group into sources;
each reader turns a source (or a part of a large file) into a stream of
:class:`~qadiag.audit.records.LogRow` and :class:`~qadiag.audit.records.Setting` (problems go out of
band, into a per-file sink); :mod:`~qadiag.audit.pipeline` runs the row rules of
:mod:`~qadiag.audit.rules` on every source as it streams, keeping what the cross-source rules need
(:mod:`~qadiag.audit.summary`), in worker processes when there is enough to read
(:mod:`~qadiag.audit.parallel`), groups the sources into runs (:mod:`~qadiag.audit.runs`), runs the
cross-source rules per run and merges findings by cause (:mod:`~qadiag.audit.grouping`);
:mod:`~qadiag.audit.command` takes the settings (:mod:`~qadiag.audit.config`), prints the report in the
chosen format (:mod:`qadiag.formats`) and says on stderr what was read (:mod:`~qadiag.audit.inputs`).

Run directories are untrusted input: :mod:`~qadiag.audit.files` opens them without following links.
Importing this package imports neither torch, transformers nor wandb: the wandb protobufs load only
when a ``.wandb`` file is read, the TensorBoard ones only when an event file is.
"""

# Where an internal error (a bug in qadiag, never in the user's run) is to be reported.
REPORT_BUGS_AT = "the qadiag issue tracker"
