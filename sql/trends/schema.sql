-- Trend tables: created with explicit types, filled by pipelines/trends.py (INSERT BY NAME).
CREATE SCHEMA IF NOT EXISTS trends;

CREATE OR REPLACE TABLE trends.series (
    series_id VARCHAR NOT NULL,        -- indicator|measure|geo|substance|sex|age|breakdown|unit|origin
    indicator_id INTEGER NOT NULL,
    measure VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    substance VARCHAR,
    sex VARCHAR,
    age VARCHAR,
    breakdown VARCHAR,
    unit VARCHAR NOT NULL,
    value_origin VARCHAR NOT NULL,
    geo_level VARCHAR,
    period INTEGER NOT NULL,
    value DOUBLE NOT NULL,
    flags VARCHAR,
    previous_period INTEGER,           -- previous observation in the same segment
    abs_change DOUBLE,
    pct_change DOUBLE,
    moving_avg_3 DOUBLE,               -- trailing, within the segment
    break_before BOOLEAN NOT NULL,     -- the series is split before this period
    break_reason VARCHAR,
    segment INTEGER NOT NULL,
    source_dataset VARCHAR NOT NULL,
    snapshot_sha256 VARCHAR NOT NULL
);

CREATE OR REPLACE TABLE trends.suspected_breaks (
    series_id VARCHAR NOT NULL,
    indicator_id INTEGER NOT NULL,
    measure VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    substance VARCHAR,
    sex VARCHAR,
    age VARCHAR,
    breakdown VARCHAR,
    unit VARCHAR NOT NULL,
    value_origin VARCHAR NOT NULL,
    period INTEGER NOT NULL,
    previous_period INTEGER NOT NULL,
    ratio DOUBLE NOT NULL,
    kind VARCHAR NOT NULL,             -- level_shift (treated as a break) | spike (listed only)
    reason VARCHAR NOT NULL,
    treated_as_break BOOLEAN NOT NULL
);

CREATE OR REPLACE TABLE trends.assessment (
    series_id VARCHAR NOT NULL,
    indicator_id INTEGER NOT NULL,
    measure VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    substance VARCHAR,
    sex VARCHAR,
    age VARCHAR,
    breakdown VARCHAR,
    unit VARCHAR NOT NULL,
    value_origin VARCHAR NOT NULL,
    polarity VARCHAR NOT NULL,
    segment INTEGER NOT NULL,          -- the latest segment, which the assessment covers
    first_period INTEGER NOT NULL,
    last_period INTEGER NOT NULL,
    n_points INTEGER NOT NULL,
    baseline_period INTEGER,
    baseline_value DOUBLE,
    latest_period INTEGER NOT NULL,
    latest_value DOUBLE NOT NULL,
    latest_flags VARCHAR,
    change_since_baseline DOUBLE,
    change_since_baseline_pct DOUBLE,
    short_term_start INTEGER,
    short_term_end INTEGER,
    cagr_short_term DOUBLE,            -- % per year
    class_short_term VARCHAR NOT NULL,
    long_term_start INTEGER,
    long_term_end INTEGER,
    cagr_long_term DOUBLE,
    class_long_term VARCHAR NOT NULL,
    mk_trend VARCHAR NOT NULL,
    mk_p_value DOUBLE,
    mk_tau DOUBLE,
    sen_slope DOUBLE,                  -- per year
    mk_n INTEGER NOT NULL,
    direction VARCHAR NOT NULL,        -- improving | worsening | stable | not assessed | insufficient data
    notes VARCHAR,
    method VARCHAR NOT NULL,
    source_dataset VARCHAR NOT NULL,
    series_rows INTEGER                -- rows of this series in trends.series (traceability)
);

-- Wastewater city change as the EUDA publishes it: each site's daily mean against the
-- campaign exactly one year earlier (same release: site IDs are renumbered between releases).
CREATE OR REPLACE TABLE trends.wastewater_city_change (
    site_id VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    country VARCHAR NOT NULL,          -- Eurostat code (GR -> EL, GB -> UK, H -> HU mapped)
    substance VARCHAR NOT NULL,        -- as published: cocaine = benzoylecgonine, cannabis = THC-COOH
    year INTEGER NOT NULL,
    value DOUBLE NOT NULL,             -- daily mean, mg/1000 people/day; 0 = below LOQ
    previous_year INTEGER,
    previous_value DOUBLE,
    change_pct DOUBLE,                 -- NULL when no previous data or the previous value is 0
    change_class VARCHAR NOT NULL,     -- increase | stable (within +/-10 %) | decrease | no previous data
    population_served DOUBLE,          -- from the release's site table (same release: same site IDs)
    flags VARCHAR,
    source_dataset VARCHAR NOT NULL,
    snapshot_sha256 VARCHAR NOT NULL
);
