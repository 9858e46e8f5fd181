import sqlite3

import pytest

from isengard.errors import StorageError
from isengard.storage.db import SCHEMA_VERSION, Database
from isengard.storage.migrations import MIGRATIONS


def test_new_database_is_wal_and_current(tmp_path):
    db = Database(tmp_path / "x.db")
    assert db.schema_version == SCHEMA_VERSION == MIGRATIONS[-1][0]
    assert db.one("PRAGMA journal_mode")[0] == "wal"
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs", "job_events", "generations"} <= tables
    db.close()


def test_migrations_are_numbered_in_order():
    versions = [m[0] for m in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))


def test_old_database_is_upgraded_with_a_backup(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0][2] + "\nPRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO jobs(id, kind, title, status, correlation_id, params, created_at, updated_at)"
        " VALUES ('j1','generate','t','succeeded','c','{}',1,1)"
    )
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.schema_version == SCHEMA_VERSION
    assert db.one("SELECT id FROM jobs")[0] == "j1"  # data kept
    assert (tmp_path / "old.db.bak-v1").exists()
    db.close()


def test_corrupt_database_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError, match="database is damaged") as err:
        Database(path)
    assert "python -m isengard recover" in str(err.value) and err.value.exit_code == 3


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StorageError, match="newer Isengard"):
        Database(path)


def test_transaction_rolls_back_on_error(tmp_path):
    db = Database(tmp_path / "t.db")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute(
            "INSERT INTO jobs(id, kind, title, status, correlation_id, params, created_at, updated_at)"
            " VALUES ('j2','k','t','queued','c','{}',1,1)"
        )
        raise RuntimeError("abort")
    assert db.one("SELECT count(*) FROM jobs")[0] == 0
    db.close()
