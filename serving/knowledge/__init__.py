"""The company knowledge base: research documents with embeddings, crawled websites, semantic search."""
