"""Runs under ``torchrun`` / ``accelerate launch``: which process is rank 0, and gathering to it.

Every rank runs the probes on its own micro-batches; what they find and capture is gathered, so that
rank 0 writes it once (``samples.jsonl``, ``qadiag_report.json``, predictions) and every rank ends with
the same verdict. Outside a distributed run (or with one process) each function is the identity of a
single process, and torch is not imported.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _process_group() -> Any:
    """``torch.distributed`` when a process group of more than one rank is up, else None."""
    if "torch" not in sys.modules:  # nothing can have started a process group without importing torch
        return None
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def world_size() -> int:
    dist = _process_group()
    return dist.get_world_size() if dist else 1


def rank() -> int:
    dist = _process_group()
    return dist.get_rank() if dist else 0


def is_main_process() -> bool:
    return rank() == 0


def launched_processes() -> int:
    """How many processes ``torchrun`` / ``accelerate launch`` started (before any process group is up)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a default that differs per process, such as a timestamp)."""
    dist = _process_group()
    if dist is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shut_down() -> None:
    """Destroy the process group before the interpreter exits: a gloo group left to interpreter
    shutdown can abort the process ("terminate called without an active exception", exit -6)."""
    dist = _process_group()
    if dist is not None:
        dist.barrier()
        dist.destroy_process_group()


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` in rank order on rank 0, None on the others. Every rank must call it."""
    dist = _process_group()
    if dist is None:
        return [value]
    gathered: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def gather_everywhere(value: Any) -> list[Any]:
    """Every rank's ``value`` in rank order, on every rank. Every rank must call it."""
    dist = _process_group()
    if dist is None:
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def flatten_rank_records(per_rank: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Records gathered from the ranks, each tagged with its rank when there is more than one."""
    if len(per_rank) == 1:
        return list(per_rank[0])
    return [{"rank": process, **record} for process, records in enumerate(per_rank) for record in records]
