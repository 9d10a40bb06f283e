-- Fixed one-minute windows of request counts per API key (or session principal), shared by
-- every API process on the database. UNLOGGED: losing counts in a crash only resets windows.
CREATE UNLOGGED TABLE rate_windows (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          int NOT NULL,
    PRIMARY KEY (key, window_start)
);
