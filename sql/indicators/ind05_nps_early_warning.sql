-- Indicator 5: EU Early Warning System on new psychoactive substances.
--   nps_first_notified_by_category   EDR source data: NPS notified for the first time, by
--                                    category (breakdown) and year
--   nps_first_notified_all_categories  the same, summed over the categories of the year
--   curated figures from the European Drug Report (notified per year, total monitored)
SELECT
    'nps_first_notified_by_category' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, NULL AS substance, NULL AS sex, NULL AS age,
    breakdown, value, value_text, 'substances' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'nps_first_notified'
UNION ALL
SELECT
    'nps_first_notified_all_categories' AS measure, geo, any_value(geo_level) AS geo_level,
    CAST(period AS INTEGER) AS period, NULL AS substance, NULL AS sex, NULL AS age,
    NULL AS breakdown, sum(value) AS value, NULL AS value_text, 'substances' AS unit,
    NULL AS flags, 'sum over the categories of ' || any_value(edr_table) AS note,
    any_value(source_dataset) AS source_dataset, any_value(snapshot_sha256) AS snapshot_sha256,
    min(line) AS source_line
FROM staging.euda_edr
WHERE table_rule = 'nps_first_notified'
GROUP BY geo, period
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 5)
