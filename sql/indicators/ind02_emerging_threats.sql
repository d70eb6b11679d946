-- Indicator 2: emerging threats. Wastewater loads (mg/1000 people/day) per site, substance
-- and campaign year, the published weekday, weekend and daily means (never recomputed);
-- `breakdown` is the site id and city. 0 = below the limit of quantification (flag <LOQ).
SELECT
    'wastewater_' || statistic AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    substance,
    NULL AS sex,
    NULL AS age,
    site_id || ' (' || city || ')' AS breakdown,
    value,
    value_text,
    'mg/1000 people/day' AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.euda_wastewater
WHERE statistic IN ('daily_mean', 'weekday_mean', 'weekend_mean')
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 2)
