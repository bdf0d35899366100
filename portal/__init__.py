"""Core of the public credit portal: records, identifiers, masking, lifecycle, importers, snapshot, CLI."""

__version__ = "0.1.0"
