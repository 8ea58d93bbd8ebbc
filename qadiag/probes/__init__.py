"""Probes: TrainerCallbacks (plus the smallest hooks they need) that diagnose a Trainer as it runs.

Which probes exist and what they report is registered in :mod:`qadiag.checks`; use
:func:`qadiag.attach` to put them on any Trainer. Importing a probe module imports transformers.
"""
