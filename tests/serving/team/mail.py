"""The account e-mails the tests read: what the local outbox backend wrote for an organization."""

from __future__ import annotations

import re
import uuid
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit


def mails_to(settings, organization_id: uuid.UUID, address: str) -> list:
    folder = settings.outbox_dir / str(organization_id)
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime) if folder.exists() else []:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if address.lower() in str(message["To"]).lower():
            found.append(message)
    return found


def link_token(message, name: str) -> str:
    """The `?<name>=` token of the link in a mail's text."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    url = re.search(r"https?://\S+", text).group(0)
    return parse_qs(urlsplit(url).query)[name][0]
