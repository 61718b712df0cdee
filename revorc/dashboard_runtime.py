"""The Streamlit dashboards as a platform process (headless, :8501), signed in through the API."""

from __future__ import annotations

import sys
from pathlib import Path

from revorc.processes import Process
from serving.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# the ASGI app: the Streamlit script plus the route that keeps a sign-in across reloads
ENTRY = ROOT / "dashboards" / "server.py"


def streamlit_process(settings: Settings, *, host: str = "127.0.0.1", port: int = 8501,
                      api_url: str | None = None) -> Process:
    """`streamlit run` for `revorc up`; the API URL defaults to the API process on the same host."""
    api = api_url or (settings.public_api_url or f"http://{settings.api_host}:{settings.api_port}")
    return Process(
        name="dashboards",
        url=f"http://{host}:{port}",
        env={"REVORC_API_URL": api.rstrip("/"), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
        args=[sys.executable, "-m", "streamlit", "run", str(ENTRY), "--server.headless", "true",
              "--server.address", host, "--server.port", str(port), "--browser.gatherUsageStats", "false"],
    )
