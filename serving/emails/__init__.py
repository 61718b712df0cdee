"""Email infrastructure: templates, sending, tracking, deliverability, bulk jobs."""
