"""The schema as an ordered list of migrations; applied ones are recorded in schema_version.

Never edit a released migration: append a new one.
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
    );
    CREATE TABLE token_families (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        api_token_id INTEGER REFERENCES api_tokens(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE refresh_tokens (
        id INTEGER PRIMARY KEY,
        family_id TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        expires_at REAL NOT NULL,
        used_at TEXT
    );
    CREATE TABLE access_tokens (
        id INTEGER PRIMARY KEY,
        family_id TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        expires_at REAL NOT NULL
    );
    CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
    CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
    CREATE TABLE networks (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        network_id INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'created',
        created_at TEXT NOT NULL,
        UNIQUE (network_id, name)
    );
    CREATE TABLE env_entries (
        id INTEGER PRIMARY KEY,
        network_id INTEGER NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        app_id INTEGER REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('var', 'secret')),
        value TEXT,
        ciphertext BLOB,
        digest TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX env_entries_scope_key ON env_entries (network_id, coalesce(app_id, 0), key)
    """,
    """
    ALTER TABLE apps ADD COLUMN release INTEGER;
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('deploy', 'config', 'rollback')),
        artifact_release INTEGER NOT NULL,
        checksum TEXT NOT NULL,
        size INTEGER NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        git TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        env_vars TEXT NOT NULL,
        env_secrets TEXT NOT NULL,
        processes TEXT,
        error TEXT,
        idempotency_key TEXT,
        UNIQUE (app_id, number)
    );
    CREATE UNIQUE INDEX releases_idempotency ON releases (app_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL
    """,
    """
    CREATE TABLE audit_sessions (
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        user_email TEXT NOT NULL,
        network TEXT NOT NULL,
        app TEXT,
        kind TEXT NOT NULL,
        command TEXT NOT NULL,
        client TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        exit_code INTEGER,
        duration_s REAL,
        reason TEXT
    );
    CREATE INDEX audit_sessions_user_started ON audit_sessions (user_id, started_at)
    """,
    """
    CREATE TABLE device_codes (
        id INTEGER PRIMARY KEY,
        device_hash TEXT NOT NULL UNIQUE,
        user_code TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'denied', 'used')),
        user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at REAL NOT NULL,
        interval INTEGER NOT NULL,
        last_poll REAL
    )
    """,
    # who asked for a device code, shown on the approval page; a session's end (its last
    # refresh token's expiry), looked up by family when a socket is checked
    """
    ALTER TABLE device_codes ADD COLUMN client_name TEXT;
    ALTER TABLE device_codes ADD COLUMN client_address TEXT;
    CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)
    """,
    # how many web processes an app runs (`rig scale`; NULL: as its rig.toml says, else one)
    """
    ALTER TABLE apps ADD COLUMN instances INTEGER
    """,
    # image deploys (`rig deploy --image`): a release of a prebuilt image records the reference
    # asked for and the digest it resolved to; registry credentials are the user's, the password
    # encrypted as secrets are
    """
    ALTER TABLE releases ADD COLUMN image TEXT;
    ALTER TABLE releases ADD COLUMN image_digest TEXT;
    CREATE TABLE registries (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (user_id, host)
    )
    """,
]
