"""Address translation: where to reach a node whose own address the client cannot use.

A node announces the address it listens on (``system.peers_v2.native_address``, STATUS_CHANGE events);
behind NAT, a port-forwarding proxy, or across cloud regions, the client reaches it somewhere else. An
:class:`AddressTranslator` maps each announced ``(address, port)`` to the one to connect to. It is applied
to every peer the control connection reads and to the address in every status event. The node the control
connection is on is reached at the address it was reached at (a contact point, already translated).

cassandra-driver: ``Cluster(address_translator=...)`` with ``translate(addr) -> addr``; the Java
driver's ``AddressTranslator.translate(InetSocketAddress)``. Here the port is translated too.

Example:
    >>> nat = MappingTranslator({"10.0.0.5": ("203.0.113.5", 19042)})
    >>> nat.translate("10.0.0.5", 9042), nat.translate("10.0.0.6", 9042)
    (('203.0.113.5', 19042), ('10.0.0.6', 9042))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from aiocql.errors import InvalidValueError

__all__ = ["AddressTranslator", "IdentityTranslator", "MappingTranslator"]


@runtime_checkable
class AddressTranslator(Protocol):
    """Maps a node's announced ``(address, port)`` to the ``(address, port)`` the client connects to.

    Called on the event loop for each peer row and status event: it must not block (no DNS lookups;
    resolve ahead of time). The address returned must be an IP address.

    Example:
        >>> class Ec2Public:
        ...     def __init__(self, public: dict[str, str]) -> None:
        ...         self.public = public
        ...     def translate(self, address: str, port: int) -> tuple[str, int]:
        ...         return self.public.get(address, address), port
    """

    def translate(self, address: str, port: int) -> tuple[str, int]:
        """Where to reach the node that announces ``address:port``."""
        ...


class IdentityTranslator:
    """Every node is reached where it says it is (the default).

    Example:
        >>> IdentityTranslator().translate("10.0.0.1", 9042)
        ('10.0.0.1', 9042)
    """

    def translate(self, address: str, port: int) -> tuple[str, int]:
        """``(address, port)`` unchanged."""
        return address, port


class MappingTranslator:
    """A fixed table: an announced address (any port) or ``(address, port)`` to ``(address, port)``;
    nodes not in the table are reached where they say they are.

    Example:
        >>> t = MappingTranslator({("10.0.0.1", 9042): ("127.0.0.1", 19001)})
        >>> t.translate("10.0.0.1", 9042)
        ('127.0.0.1', 19001)
    """

    def __init__(self, table: Mapping[str | tuple[str, int], tuple[str, int]]) -> None:
        for key, value in table.items():
            if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int)):
                raise InvalidValueError(
                    f"MappingTranslator: {key!r} must map to an (address, port) tuple, not {value!r}"
                )
        self.table = dict(table)

    def translate(self, address: str, port: int) -> tuple[str, int]:
        """The table's entry for ``(address, port)``, else for ``address``, else the input."""
        return self.table.get((address, port)) or self.table.get(address) or (address, port)
