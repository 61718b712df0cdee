"""The default backend: RFC 5322 `.eml` files in `REVORC_HOME/outbox/<organization>/<email id>.eml`.

The file name is the email id and the write is atomic (temp file + rename), so delivering the
same email again replaces the file instead of adding a second copy. The outbox is its own provider
record: an attempt was sent iff its `.eml` exists, and a worker killed between the write and the
rename leaves a temp file that recovery removes.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from serving.emails.delivery import Attempt, DeliveryResult, Found, Prepared, SendLookup


class OutboxBackend:
    name = "outbox"

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(self, message: Prepared) -> DeliveryResult:
        folder = self.root / str(message.organization_id)
        folder.mkdir(parents=True, exist_ok=True)
        data = message.mime().as_bytes(policy=policy.SMTP)
        target = folder / f"{message.email_id}.eml"
        tmp = folder / f".{message.email_id}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return DeliveryResult(provider=self.name, provider_message_id=message.message_id)

    def find_attempt(self, attempt: Attempt, *, now: datetime) -> SendLookup:
        """Sent iff the rename happened; the dead attempt's half-written temp files go either way
        (only the attempt that holds the claim writes this email's files, and it is dead)."""
        folder = self.root / str(attempt.organization_id)
        for leftover in folder.glob(f".{attempt.email_id}.*.tmp"):
            leftover.unlink(missing_ok=True)
        if (folder / f"{attempt.email_id}.eml").exists():
            return SendLookup(Found.sent, detail="found in the outbox")
        return SendLookup(Found.not_sent, detail="not in the outbox")


@dataclass(frozen=True)
class OutboxEntry:
    email_id: uuid.UUID
    path: Path
    size: int
    written_at: datetime
    subject: str | None
    to: str | None


def list_outbox(root: Path, organization_id: uuid.UUID) -> list[OutboxEntry]:
    folder = root / str(organization_id)
    if not folder.is_dir():
        return []
    entries = []
    parser = BytesParser(policy=policy.default)
    for path in folder.glob("*.eml"):
        try:
            email_id = uuid.UUID(path.stem)
        except ValueError:
            continue
        stat = path.stat()
        with path.open("rb") as handle:
            headers = parser.parse(handle, headersonly=True)
        entries.append(
            OutboxEntry(
                email_id=email_id,
                path=path,
                size=stat.st_size,
                written_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                subject=headers.get("Subject"),
                to=headers.get("To"),
            )
        )
    return sorted(entries, key=lambda e: e.written_at, reverse=True)
