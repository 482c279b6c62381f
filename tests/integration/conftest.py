# SPDX-License-Identifier: MIT
"""Fixtures every API test shares: a daemon on a scratch data directory, stopped cleanly."""
import pytest

from kinesis_util import Daemon


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)
