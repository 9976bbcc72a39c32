-- The server's theme of the hosted pages as edited in the console or the management API
-- (docs/theming.md): its values override the configuration's `[theme]` key by key. One row at
-- most (id is always 1), never deleted: a reset stores `{}`. `version` grows with every change,
-- so each node sees a change by reading one number.
CREATE TABLE server_theme (
    id          BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    theme       JSONB NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);
