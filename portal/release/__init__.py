"""Release: publish a snapshot version (ingest, site, index, switch), roll back, and the audit trail."""
