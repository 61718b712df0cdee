"""The registry of working connectors: provider key → connector class. Only these are "available" in the
marketplace."""

from __future__ import annotations

from serving.integrations.connectors.base import Connector

CONNECTORS: dict[str, type[Connector]] = {}


def register(connector: type[Connector]) -> type[Connector]:
    CONNECTORS[connector.key] = connector
    return connector


# Importing the connector modules registers them (each decorates its class with `register`).
from serving.integrations.connectors import calendly, crm, google_calendar, slack  # noqa: E402, F401
