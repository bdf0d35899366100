"""What everything downstream of ingest may import: the public record types, the catalogue, the snapshot
contract, digests and shared helpers. Holds no raw values and imports nothing outside itself but settings."""
