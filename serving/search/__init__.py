"""Universal search: Typesense collections, the sync queue, scoped keys, query understanding, analytics."""
