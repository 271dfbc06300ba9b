"""The base class of every decoded response message.

Every response carries the optional envelope prefixes (spec 4): a tracing id (flag
0x02), server warnings (flag 0x08) and a custom payload (flag 0x04). They are keyword-only fields
with defaults, so subclasses list their own fields positionally.

Responses are slotted dataclasses, not frozen ones: one is built per reply, and a frozen dataclass's
``__init__`` (one ``object.__setattr__`` per field) made a RESULT Rows cost about 3 times as much to
build. They hash and compare by value as before; treat them as read-only.

Example:
    >>> from aiocql.protocol.responses import Ready
    >>> Ready(warnings=("slow",)).warnings
    ('slow',)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

__all__ = ["Response"]


@dataclass(slots=True, unsafe_hash=True, kw_only=True)
class Response:
    """Base of every response message returned by :func:`aiocql.protocol.responses.decode_response`."""

    tracing_id: UUID | None = None
    warnings: tuple[str, ...] = ()
    custom_payload: Mapping[str, bytes | None] | None = None
