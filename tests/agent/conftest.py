import agent_process as ap
import pytest


@pytest.fixture
def state_dir():
    """A state directory with a path short enough for the agent's socket, removed afterwards."""
    path = ap.short_state_dir()
    yield path
    ap.cleanup(path)
