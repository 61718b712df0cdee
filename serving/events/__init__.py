"""Real-time event intake: Segment-style tracking calls and SendGrid's Event Webhook, landed in `raw`."""
