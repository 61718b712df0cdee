"""Outbound webhooks: endpoints, signed deliveries (Standard Webhooks) with retries, logs and replay."""
