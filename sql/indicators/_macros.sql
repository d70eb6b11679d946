-- Table macros shared by the indicator queries. Each is created before a query that uses it
-- (and only then: a macro binds the tables it reads). One statement per macro; a macro does
-- not use another. They return the columns every indicator query returns (see
-- pipelines/indicators.py).

-- Curated rows for indicator n from one curated staging table (by name, e.g.
-- 'staging.curated_eu_headlines'), so that a query reads only the curated inputs its
-- indicator declares. The citation (document, edition, page, URL, access date, confidence)
-- travels in `note`, so every curated number shows where it was published.
CREATE OR REPLACE MACRO curated_rows(curated_table, n) AS TABLE
SELECT
    measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    nullif(substance, '') AS substance,
    nullif(sex, '') AS sex,
    nullif(age, '') AS age,
    nullif(breakdown, '') AS breakdown,
    value,
    value_text,
    unit,
    flags,
    concat_ws('; ',
        nullif(note, ''),
        'published in: ' || document || ', ' || edition || ', ' || table_or_page,
        url,
        'accessed ' || accessed,
        'confidence ' || confidence,
        'question: ' || nullif(question_wording, '')) AS note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM query_table(curated_table)
WHERE CAST(indicator_id AS INTEGER) = n;

-- Statistical Bulletin rows for indicator n (the catalogue's breadcrumb rules say which
-- table feeds which indicator and measure). The rest of the breadcrumb, the study and the
-- table column go to `breakdown`; Males/Females/Total columns and Male/Female tables to `sex`.
CREATE OR REPLACE MACRO bulletin_rows(n) AS TABLE
SELECT
    measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    NULL AS substance,
    CASE
        WHEN lower("column") IN ('males', 'male') OR lower(breakdown) = 'male' THEN 'male'
        WHEN lower("column") IN ('females', 'female') OR lower(breakdown) = 'female' THEN 'female'
        ELSE 'total'
    END AS sex,
    NULL AS age,
    nullif(concat_ws(' | ',
        CASE WHEN lower(coalesce(breakdown, '')) NOT IN ('male', 'female') THEN breakdown END,
        CASE WHEN subnational IS NOT NULL THEN 'sub-national area ' || subnational END,
        CASE WHEN study IS NOT NULL THEN 'study ' || study END,
        CASE WHEN lower(coalesce("column", '')) NOT IN ('males', 'male', 'females', 'female', 'total')
             THEN "column" END), '') AS breakdown,
    value,
    value_text,
    unit,
    flags,
    concat_ws('; ', 'table: ' || table_breadcrumb, note) AS note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.euda_bulletin
WHERE CAST(indicator_id AS INTEGER) = n
  AND period IS NOT NULL
  -- a survey's sample size is not a value of the table's measure
  AND lower(coalesce("column", '')) <> 'sample size';

-- Police-recorded offences (Eurostat crim_off_cat) with the measure names indicators 1 and 3
-- use: NR = number ('count'), P_HTHAB = per hundred thousand inhabitants ('_rate').
CREATE OR REPLACE MACRO crime_offence_rows() AS TABLE
SELECT
    CASE iccs
        WHEN 'ICCS0601' THEN 'drug_law_offences'
        WHEN 'ICCS0101' THEN 'homicide'
        WHEN 'ICCS07041' THEN 'money_laundering_offences'
    END || CASE unit WHEN 'P_HTHAB' THEN '_rate' ELSE '' END AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    NULL AS substance,
    NULL AS sex,
    NULL AS age,
    NULL AS breakdown,
    value,
    value_text,
    CASE unit WHEN 'NR' THEN 'count' WHEN 'P_HTHAB' THEN 'per 100 000 inhabitants' END AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.eurostat_crim_off_cat
WHERE freq = 'A'
  AND iccs IN ('ICCS0601', 'ICCS0101', 'ICCS07041')
  AND unit IN ('NR', 'P_HTHAB');
