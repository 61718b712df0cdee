"""Login and the current user."""
