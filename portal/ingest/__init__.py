"""Ingest: the only place raw department values exist. Reads sources, validates, masks, and writes a public
snapshot through ``portal.public.snapshot``. Entry point: ``portal.ingest.pipeline.run_ingest``."""
