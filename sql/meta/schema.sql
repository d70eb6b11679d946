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

-- Every value the indicator tables published, stored once per version (pipelines/revisions.py):
-- a row is added when a value first appears or is revised, and closed (replaced_in) when a
-- later release revises or withdraws it. The values of release R are the rows released in R
-- or before and not replaced in R or before. Carried from release to release, like meta.releases.
CREATE TABLE IF NOT EXISTS meta.published_values (
    indicator_id INTEGER NOT NULL,
    measure VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    period INTEGER NOT NULL,
    substance VARCHAR,
    sex VARCHAR,
    age VARCHAR,
    breakdown VARCHAR,
    unit VARCHAR,
    value_origin VARCHAR NOT NULL,
    value DOUBLE,
    value_text VARCHAR,
    flags VARCHAR,
    source_dataset VARCHAR,
    snapshot_sha256 VARCHAR,           -- the snapshot that published this version
    released_in VARCHAR NOT NULL,      -- release that first published this version
    replaced_in VARCHAR                -- release that revised or withdrew it; NULL: still published
);

-- What each release changed against the release before it (pipelines/revisions.py).
CREATE TABLE IF NOT EXISTS meta.revisions (
    release_id VARCHAR NOT NULL,
    previous_release_id VARCHAR NOT NULL,
    change VARCHAR NOT NULL,           -- revised | new_period | new_series | withdrawn | vanished_series
    indicator_id INTEGER NOT NULL,
    measure VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    substance VARCHAR,
    sex VARCHAR,
    age VARCHAR,
    breakdown VARCHAR,
    unit VARCHAR,
    value_origin VARCHAR NOT NULL,
    period INTEGER,                    -- NULL on a whole-series row (new_series, vanished_series)
    first_period INTEGER NOT NULL,
    last_period INTEGER NOT NULL,
    n_values INTEGER NOT NULL,
    old_value DOUBLE,
    new_value DOUBLE,
    old_value_text VARCHAR,
    new_value_text VARCHAR,
    old_flags VARCHAR,
    new_flags VARCHAR,
    old_snapshot_sha256 VARCHAR,
    new_snapshot_sha256 VARCHAR,       -- the snapshot that brought the change
    source_dataset VARCHAR
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

-- The input key of every gated table of a build (pipelines/reuse.py): a table whose key equals
-- the one the published release recorded is copied from it, not rebuilt. Carried from release
-- to release, like meta.releases.
CREATE TABLE IF NOT EXISTS meta.input_keys (
    release_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,             -- staging | indicator | trends | release (the whole release)
    snapshots VARCHAR[],               -- staging: every snapshot staging considered, "<sha256>@<fetched_at>"
    catalogue_sha256 VARCHAR NOT NULL, -- the catalogue entry (validated model) it is built by
    code_sha256 VARCHAR NOT NULL,      -- every file of pipelines/, sql/ and expectations/
    upstream_keys VARCHAR[],           -- input keys of the tables it reads
    input_key VARCHAR NOT NULL,        -- sha256 over all of the above
    copied_from VARCHAR,               -- release it was copied from; NULL: built in this build
    built_in VARCHAR NOT NULL,         -- release that last staged or computed it
    PRIMARY KEY (release_id, table_name)
);
