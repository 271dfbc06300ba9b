"""Which statements are lightweight transactions (conditional writes), for LWT-aware routing.

Apache Cassandra does not mark LWT statements in its replies (no prepared-metadata flag, no protocol
extension in SUPPORTED; ScyllaDB's ``SCYLLA_LWT_ADD_METADATA_MARK`` is its own), so the driver reads the
statement: an INSERT, UPDATE or DELETE (or a BATCH holding one) with an ``IF`` clause. ``IF`` is a
reserved word in CQL, so outside string literals, quoted names and comments it can only start a
condition (``IF NOT EXISTS``, ``IF EXISTS``, ``IF col = ?``).

Example:
    >>> is_conditional("UPDATE t SET v = ? WHERE k = ? IF v = ?")
    True
    >>> is_conditional("INSERT INTO t (k, \\"if\\") VALUES (1, 'if')")
    False
"""

from __future__ import annotations

import re

__all__ = ["is_conditional"]

_NOISE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$\$.*?\$\$|--[^\n]*|//[^\n]*|/\*.*?\*/", re.S)
_WRITE = re.compile(r"^\s*(?:BEGIN\b.*?\bBATCH\b\s*)?(?:INSERT|UPDATE|DELETE)\b", re.I | re.S)
_IF = re.compile(r"\bIF\b", re.I)


def is_conditional(query: str) -> bool:
    """True for a conditional write (a lightweight transaction): INSERT/UPDATE/DELETE ... IF ...

    Example:
        >>> is_conditional("INSERT INTO t (k) VALUES (1) IF NOT EXISTS"), is_conditional("SELECT * FROM t")
        (True, False)
    """
    if "if" not in query.lower():  # the common case, without a regex
        return False
    text = _NOISE.sub(" ", query)
    return bool(_WRITE.match(text)) and bool(_IF.search(text))
