"""``SessionPools.by_id``, the read-only view the lean request path looks pools up in, follows every change the
registry makes to the set (add, remove, re-key) and cannot be written through."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from aiocql.pool.registry import PoolRegistry


def pool_of(host_id: uuid.UUID) -> Any:
    return SimpleNamespace(host_info=SimpleNamespace(host_id=host_id), on_stream_free=None)


def test_by_id_follows_the_registry_and_is_read_only() -> None:
    registry = PoolRegistry()
    pools = registry.new_set()
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    view = pools.by_id
    assert view.get(a) is None
    pool = pool_of(a)
    registry.add(pools, pool)
    assert view.get(a) is pool is pools.get(a)
    registry.rekey(a, SimpleNamespace(host_id=b))  # type: ignore[arg-type]
    assert view.get(a) is None and view.get(b) is pool
    assert registry.remove(b) == [pool]
    assert view.get(b) is None and len(view) == 0
    with pytest.raises(TypeError):
        view[a] = pool  # type: ignore[index]
