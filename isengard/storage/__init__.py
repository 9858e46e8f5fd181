"""Storage: the SQLite database and atomic file writes. All writes under the data directory go through here."""

from isengard.storage.db import SCHEMA_VERSION, Database
from isengard.storage.files import atomic_write_bytes, atomic_write_json, atomic_write_text, file_sha256

__all__ = [
    "SCHEMA_VERSION",
    "Database",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "file_sha256",
]
