import os
import socket

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


def pick_free_port() -> int:
    """A localhost TCP port that nothing listens on, for a server a test (or a script) starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def free_port():
    """`pick_free_port`, for the tests that start servers."""
    return pick_free_port
