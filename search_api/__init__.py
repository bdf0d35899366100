"""Search API of the public credit portal: FastAPI over an SQLite FTS5 (default) or Meilisearch index."""
