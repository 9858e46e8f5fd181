"""Schema migrations, applied in order. The schema version lives in `PRAGMA user_version`.

Never edit a released migration: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "jobs and their progress events",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            correlation_id TEXT NOT NULL,
            params TEXT NOT NULL,
            result TEXT,
            error TEXT,
            progress TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            owner TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX jobs_status ON jobs(status);
        CREATE INDEX jobs_created ON jobs(created_at);
        CREATE TABLE job_events (
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (job_id, seq)
        );
        """,
    ),
    (
        2,
        "image generation history",
        """
        CREATE TABLE generations (
            id TEXT PRIMARY KEY,
            job_id TEXT,
            created_at REAL NOT NULL,
            backend TEXT NOT NULL,
            base_model TEXT NOT NULL,
            prompt TEXT NOT NULL,
            negative_prompt TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL,
            images TEXT NOT NULL,
            notes TEXT NOT NULL DEFAULT '[]',
            character_id INTEGER,
            correlation_id TEXT
        );
        CREATE INDEX generations_created ON generations(created_at);
        """,
    ),
    (
        3,
        "characters and their photos",
        """
        CREATE TABLE characters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            trigger_word TEXT NOT NULL UNIQUE,
            class_word TEXT NOT NULL DEFAULT 'person',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            character_id INTEGER NOT NULL REFERENCES characters(id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL,
            file_name TEXT NOT NULL,
            original_name TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            format TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            caption TEXT NOT NULL DEFAULT '',
            caption_source TEXT NOT NULL DEFAULT 'template',
            checks TEXT,
            crop_file TEXT,
            use_crop INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            UNIQUE (character_id, sha256)
        );
        CREATE INDEX photos_character ON photos(character_id);
        """,
    ),
    (
        4,
        "trained LoRAs and the user's own base models",
        """
        CREATE TABLE loras (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            character_id INTEGER REFERENCES characters(id) ON DELETE SET NULL,
            character_name TEXT,
            job_id TEXT,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            step INTEGER,
            path TEXT NOT NULL UNIQUE,
            family TEXT NOT NULL,
            base_model TEXT NOT NULL,
            trigger_word TEXT,
            backend TEXT,
            sha256 TEXT,
            size_bytes INTEGER,
            metadata TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX loras_character ON loras(character_id);
        CREATE INDEX loras_job ON loras(job_id);
        CREATE TABLE base_models (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            family TEXT NOT NULL,
            source TEXT NOT NULL,
            original TEXT NOT NULL,
            sha256 TEXT,
            created_at REAL NOT NULL
        );
        """,
    ),
    (
        5,
        "job heartbeats; storage names that are never reused",
        """
        ALTER TABLE jobs ADD COLUMN heartbeat_at REAL;
        ALTER TABLE characters ADD COLUMN folder TEXT;
        UPDATE characters SET folder = 'character-' || id WHERE folder IS NULL;
        CREATE UNIQUE INDEX characters_folder ON characters(folder);
        """,
    ),
    (
        6,
        "likeness scores of the probe pictures made while training",
        """
        CREATE TABLE probe_scores (
            job_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            image TEXT NOT NULL,
            found INTEGER NOT NULL,
            likeness REAL,
            yaw REAL,
            pitch REAL,
            copies_photo INTEGER,
            collapsed INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            PRIMARY KEY (job_id, step, idx)
        );
        """,
    ),
    (
        7,
        "favourite pictures",
        """
        CREATE TABLE picture_marks (
            path TEXT PRIMARY KEY,
            favourite INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        """,
    ),
    (
        8,
        "imported models remember the catalogue model they were made from",
        """
        ALTER TABLE base_models ADD COLUMN based_on TEXT;
        """,
    ),
]
