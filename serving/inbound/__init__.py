"""Inbound email: reply detection from SendGrid Inbound Parse and a generic JSON form."""
