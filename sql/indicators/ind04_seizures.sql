-- Indicator 4: seizures of drugs, NPS and precursors. EDR cannabis seizures (number and
-- tonnes, EU and EU+2), Statistical Bulletin seizure, price and purity tables (context),
-- and curated EU headline seizure figures.
SELECT
    CASE measure_column
        WHEN 'number_of_seizures' THEN 'seizures_number'
        WHEN 'quantity_seized_tonnes' THEN 'seizures_quantity_tonnes'
    END AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    lower(substance) || CASE WHEN type IS NOT NULL THEN ' ' || lower(type) ELSE '' END AS substance,
    NULL AS sex,
    NULL AS age,
    NULL AS breakdown,
    value,
    value_text,
    CASE measure_column WHEN 'number_of_seizures' THEN 'count' ELSE 'tonnes' END AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.euda_edr_cannabis_seizures
UNION ALL
SELECT * FROM bulletin_rows(4)
UNION ALL
SELECT * FROM curated_rows(4)
