"""A request subclass (the lean path's pre-encoded EXECUTE) is judged and named by its request kind."""

from __future__ import annotations

import pytest

from aiocql.connection.replies import BATCH_RESULT, check_reply, expected_replies
from aiocql.errors import ProtocolError
from aiocql.protocol.requests import Batch, BatchQuery, BatchType
from aiocql.protocol.responses import Ready
from aiocql.protocol.results import VoidResult
from aiocql.session.fast import _Encoded


def test_a_wrong_reply_to_a_pre_encoded_execute_names_execute() -> None:
    request = _Encoded(b"\x01\x02", b"")
    with pytest.raises(ProtocolError, match=r"answered EXECUTE with READY"):
        check_reply(request, Ready())
    check_reply(request, VoidResult())  # a RESULT answers it


class _MyBatch(Batch):
    pass


def test_a_request_subclass_gets_its_kind_s_replies() -> None:
    batch = _MyBatch([BatchQuery("INSERT", [])], BatchType.UNLOGGED)
    assert expected_replies(batch) == BATCH_RESULT
    with pytest.raises(ProtocolError, match=r"answered BATCH with READY"):
        check_reply(batch, Ready())
