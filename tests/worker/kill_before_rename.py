"""Deliver an organization's due emails to the outbox and die (SIGKILL) between the temporary-file
write and the rename, as a worker killed at that instant would."""

import os
import signal
import sys
import uuid
from types import SimpleNamespace

from serving.core.config import Settings
from serving.emails import runner
from serving.emails.delivery import outbox
from serving.worker import configure


def _killed(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)


outbox.os = SimpleNamespace(getpid=os.getpid, replace=_killed)

if __name__ == "__main__":
    runtime = configure(Settings())
    runner.deliver_due(factory=runtime.factory, settings=runtime.settings, organization_id=uuid.UUID(sys.argv[1]))
