"""Messages between the grader and a sandbox: a JSON header and binary blobs, with limits.

A message is a JSON header plus binary blobs (the raw C-order bytes of numpy arrays of numbers,
booleans or strings, whose dtype and shape are in the header; nothing is ever pickled)::

    [4-byte length][JSON header][4-byte blob count]([8-byte length][blob])*

What the header and blobs hold is grading/codec.py's business. The grader reads with a deadline
and a size limit, so a sandbox that stalls or floods the channel only times out or fails.
This module runs on both sides (the sandbox gets a copy: see grading/sandbox.py), so it imports
only the standard library.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

MAX_HEADER = 64 << 20
MAX_BLOBS = 200_000


class ProtocolError(Exception):
    """The other side sent something that is not a valid message (or too much of it)."""


class PeerClosed(ProtocolError):
    """The other side closed the channel (it exited or crashed)."""


class Timeout(ProtocolError):
    """No complete message arrived before the deadline."""


# -- framing ------------------------------------------------------------------------------------

def send(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    body = json.dumps(header, allow_nan=True, separators=(",", ":")).encode("utf-8")
    parts = [struct.pack(">I", len(body)), body, struct.pack(">I", len(blobs))]
    for blob in blobs:
        parts.append(struct.pack(">Q", len(blob)))
        parts.append(blob)
    sock.sendall(b"".join(parts))


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise Timeout(f"no message within the time limit ({n - got} bytes missing)")
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise PeerClosed("the other side closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, *, deadline: float | None = None,
         max_bytes: int = 1 << 30) -> tuple[dict, list[bytes]]:
    """One message; raises :class:`Timeout`, :class:`PeerClosed` or :class:`ProtocolError`."""
    (size,) = struct.unpack(">I", _recv_exact(sock, 4, deadline))
    if size > MAX_HEADER:
        raise ProtocolError(f"message header of {size} bytes is too large")
    try:
        header = json.loads(_recv_exact(sock, size, deadline).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed message header: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message header must be a JSON object")
    (count,) = struct.unpack(">I", _recv_exact(sock, 4, deadline))
    if count > MAX_BLOBS:
        raise ProtocolError(f"{count} blobs in one message is too many")
    blobs, total = [], size
    for _ in range(count):
        (length,) = struct.unpack(">Q", _recv_exact(sock, 8, deadline))
        total += length
        if total > max_bytes:
            raise ProtocolError(f"message larger than {max_bytes >> 20} MB")
        blobs.append(_recv_exact(sock, length, deadline))
    return header, blobs
