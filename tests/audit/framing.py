"""Writers for the two binary framings, used to build test and benchmark files from real payloads.

``wandb_log`` lays records out as wandb-core does (LevelDB log blocks, CRC-32), with the header
inside block 0 (wandb >= 0.17.6, ``origin=0``) or outside it (older wandb-core, ``origin=7``).
``tfrecord`` frames events as TensorBoard does. Both are the writer side of what the readers parse,
written from the format description rather than from the reader's code.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

from qadiag.audit.readers.tfrecord import masked_crc32c

WANDB_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768


class WandbLogWriter:
    """Appends records to a bytearray in the ``.wandb`` framing; ``drain`` hands over what is written."""

    def __init__(self, origin: int = 0) -> None:
        self.origin = origin
        self.data = bytearray(WANDB_HEADER)
        self.drained = 0

    def _room(self) -> int:
        return BLOCK - (self.drained + len(self.data) - self.origin) % BLOCK

    def drain(self) -> bytes:
        data = bytes(self.data)
        self.drained += len(data)
        self.data.clear()
        return data

    def add(self, payload: bytes) -> None:
        first = True
        while True:
            if self._room() < 7:
                self.data += b"\0" * self._room()
            take = min(len(payload), self._room() - 7)
            part, payload = payload[:take], payload[take:]
            last = not payload
            kind = (1 if last else 2) if first else (4 if last else 3)
            self.data += struct.pack("<IHB", zlib.crc32(bytes([kind]) + part), len(part), kind) + part
            if last:
                return
            first = False

    def chunk_offsets(self) -> list[int]:
        """Offsets of every chunk header (of a writer never drained), for tests that damage one."""
        offsets, pos = [], 7
        while pos + 7 <= len(self.data):
            if BLOCK - (pos - self.origin) % BLOCK < 7:
                pos += BLOCK - (pos - self.origin) % BLOCK
                continue
            offsets.append(pos)
            pos += 7 + struct.unpack_from("<H", self.data, pos + 4)[0]
        return offsets


def wandb_log(payloads: Iterable[bytes], origin: int = 0) -> bytes:
    writer = WandbLogWriter(origin)
    for payload in payloads:
        writer.add(payload)
    return bytes(writer.data)


def tfrecord(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + payload
        + struct.pack("<I", masked_crc32c(payload))
    )
