-- Every change of a profile value, with where it came from and what it replaced.
CREATE TABLE profile_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    location    TEXT NOT NULL,
    key         TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    source      TEXT NOT NULL,
    changed_at  BIGINT NOT NULL
);
CREATE INDEX profile_history_user ON profile_history (user_id, seq);

-- The current source of each stored value.
CREATE TABLE profile_provenance (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    location    TEXT NOT NULL,
    key         TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, location, key)
);
