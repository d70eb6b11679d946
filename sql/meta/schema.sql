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
    capture VARCHAR,                   -- "bundled copy captured ..." (a real file of the demo mirror)
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

-- The verdict of each blocking gate of this build, written by the gate as it runs (one row
-- per gated table; a re-execution replaces it). Publish reads it back and refuses a build
-- whose gates did not all run and pass.
CREATE TABLE IF NOT EXISTS meta.gate_results (
    release_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    passed BOOLEAN NOT NULL,
    summary VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (release_id, table_name)
);
