"""The base class of every decoded response message.

Every response carries the optional envelope prefixes (spec 4): a tracing id (flag
0x02), server warnings (flag 0x08) and a custom payload (flag 0x04). They are keyword-only fields
with defaults, so subclasses list their own fields positionally.

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """Base of every response message returned by :func:`aiocql.protocol.responses.decode_response`."""

    tracing_id: UUID | None = None
    warnings: tuple[str, ...] = ()
    custom_payload: Mapping[str, bytes | None] | None = None
