"""Cross-cutting pieces every domain uses: settings, database, security, errors, pagination."""
