-- Tables every build carries, whatever its content. Created empty; filled by the build.
CREATE SCHEMA IF NOT EXISTS meta;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS indicators;
CREATE SCHEMA IF NOT EXISTS trends;

-- What this run's downloads did (one row per dataset fetched in the run).
CREATE TABLE IF NOT EXISTS meta.fetch_log (
    dataset VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,          -- new | unchanged | failed
    reason VARCHAR,
    url VARCHAR,
    snapshot_sha256 VARCHAR,
    requests_made INTEGER,
    logged_at TIMESTAMP NOT NULL
);

-- One row per dataset in the release: which snapshot it was built from, and why.
CREATE TABLE IF NOT EXISTS meta.release_datasets (
    release_id VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    state VARCHAR NOT NULL,            -- fresh | unchanged | stale | missing
    reason VARCHAR,
    snapshot_sha256 VARCHAR,
    snapshot_path VARCHAR,
    fetched_at TIMESTAMP,
    is_sample BOOLEAN,
    staged_rows BIGINT,
    quarantined_snapshots VARCHAR[],   -- sha256 of newer snapshots that failed the gate
    member_snapshots VARCHAR[],        -- every snapshot staged (several for a collection)
    capture VARCHAR,                   -- "bundled copy, capture date unknown (...)": a real file of the demo mirror
    PRIMARY KEY (release_id, dataset)
);

CREATE TABLE IF NOT EXISTS meta.releases (
    release_id VARCHAR PRIMARY KEY,
    built_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP,
    eudap_version VARCHAR,
    code_revision VARCHAR,
    datasets INTEGER,
    datasets_fresh INTEGER,
    datasets_unchanged INTEGER,
    datasets_stale INTEGER,
    datasets_missing INTEGER,
    uses_sample_data BOOLEAN,
    summary VARCHAR
);
