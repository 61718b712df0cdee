"""Open one page of the app (`streamlit_app.py` with its navigation and sidebar) as a signed-in member, the way
the page tests drive it: sign in through the API, run once, switch to the page, and fail on any exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.components import session
from serving.main import create_app
from tests.conftest import ROOT
from tests.factories import PASSWORD
from tests.live_server import live_server

ENTRY = str(ROOT / "dashboards" / "streamlit_app.py")


def open_page(member, name: str, **query: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[session.SESSION_KEY] = session.login(member.email, PASSWORD)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@contextmanager
def api_for(settings) -> Iterator[str]:
    """A real API server for these settings, which the pages call (`REVORC_API_URL`) until the block ends."""
    with live_server(create_app(settings)) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVORC_API_URL", url)
        yield url
