-- Indicator 4: seizures of drugs, NPS and precursors. EDR source data (seizures by drug for
-- the EU and EU+2; the annex's seizures by country and drug; price ranges and price/purity
-- indexes as context), Statistical Bulletin seizure, price and purity tables (context), and
-- curated EU headline seizure figures.
SELECT
    CASE measure_column
        WHEN 'seizures_number' THEN 'seizures_number'
        WHEN 'seizures_tablets_million' THEN 'seizures_tablets_million'
        ELSE 'seizures_quantity_tonnes'
    END AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    lower(substance)
        || CASE WHEN type IS NOT NULL THEN ' ' || lower(type) ELSE '' END
        || CASE WHEN measure_column = 'seizures_quantity_tonnes_powder' THEN ' powder' ELSE '' END
        AS substance,
    NULL AS sex,
    NULL AS age,
    NULL AS breakdown,
    value,
    value_text,
    CASE measure_column
        WHEN 'seizures_number' THEN 'count'
        WHEN 'seizures_tablets_million' THEN 'million tablets'
        ELSE 'tonnes'
    END AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.euda_edr
WHERE table_rule IN ('seizures_eu_by_type', 'seizures_eu', 'seizures_eu_mdma')
UNION ALL
-- the annex: one column per drug and unit (`Heroin - Quantity seized (kg)`); its EU rows
-- repeat the EU figures above, so only countries are taken
SELECT
    CASE unit_raw WHEN 'count' THEN 'seizures_number' ELSE 'seizures_quantity_' || unit_raw END
        AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period, substance_raw AS substance,
    NULL AS sex, NULL AS age, NULL AS breakdown, value, value_text,
    CASE unit_raw WHEN 'litre' THEN 'litres' ELSE unit_raw END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM (
    SELECT *,
           lower(split_part(measure_column, ' - ', 1)) AS substance_raw,
           regexp_extract(measure_column, 'seized \(?([^()]*)\)$', 1) AS unit_raw
    FROM staging.euda_edr
    WHERE table_rule = 'annex_seizures' AND geo_level = 'country'
) AS annex
UNION ALL
SELECT
    CASE WHEN lower(breakdown) IN ('retail', 'wholesale') THEN 'price_' || lower(breakdown) || '_range'
         ELSE 'purity_potency_range' END AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period,
    lower(substance) || CASE WHEN type IS NOT NULL THEN ' ' || lower(type) ELSE '' END
        AS substance,
    NULL AS sex, NULL AS age,
    measure_column || ' (' || unit || ')' AS breakdown,
    value, value_text,
    CASE WHEN lower(breakdown) IN ('retail', 'wholesale') THEN 'EUR (per unit in breakdown)'
         ELSE '% or mg per tablet (unit in breakdown)' END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule IN ('price_ranges_by_type', 'price_ranges_by_form', 'price_ranges')
UNION ALL
SELECT
    lower(breakdown) || '_index' AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period,
    lower(substance) || CASE WHEN type IS NOT NULL THEN ' ' || lower(type) ELSE '' END
        AS substance,
    NULL AS sex, NULL AS age, NULL AS breakdown,
    value, value_text, 'index (first year = 100)' AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule IN ('price_purity_index_by_type', 'price_purity_index')
UNION ALL
SELECT * FROM bulletin_rows(4)
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 4)
