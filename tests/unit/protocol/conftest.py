"""Shared helpers for the protocol unit tests."""

from __future__ import annotations


def h(*parts: str) -> bytes:
    """Bytes from hex fragments; spaces are ignored so golden vectors can be laid out by field."""
    return bytes.fromhex("".join(parts).replace(" ", ""))
