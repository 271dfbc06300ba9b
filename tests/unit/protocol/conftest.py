"""Shared helpers for the protocol unit tests."""

from __future__ import annotations


def h(*parts: str) -> bytes:
    """Bytes from hex fragments; spaces are ignored so golden vectors can be laid out by field."""
    return bytes.fromhex("".join(parts).replace(" ", ""))


def a(text: str) -> str:
    """Hex of an ASCII/UTF-8 text, for golden vectors (the length prefix is written separately)."""
    return text.encode("utf-8").hex()
