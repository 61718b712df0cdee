"""The support knowledge base (seed 4.3): help articles for customers and staff."""
