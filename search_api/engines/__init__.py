"""Search engines behind one protocol (``base.Engine``): SQLite FTS5 and Meilisearch."""
