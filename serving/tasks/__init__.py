"""The rep task queue: manual cadence steps and follow-ups."""
