-- Indicator 7: drug use in the last month, last year and lifetime by drug and age group.
--   prevalence                 survey series by country (EDR general population survey trends)
--   prevalence_latest_survey   latest national survey with males and females (EDR current table)
--   survey_sample_size         respondents of that survey (context)
--   prevalence_statistical_bulletin   Bulletin tables by age band (older edition, kept apart)
-- Recall period and age group: `breakdown` holds the recall period, `age` the age group.
SELECT
    'prevalence' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    lower(substance) AS substance, 'total' AS sex, age, lower(recall_period) AS breakdown,
    value, value_text, '% of age group' AS unit, flags, note, source_dataset, snapshot_sha256,
    line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'gps_trends' AND coalesce(breakdown, 'National') = 'National'
UNION ALL
SELECT
    CASE WHEN measure_column = 'sample_size' THEN 'survey_sample_size'
         ELSE 'prevalence_latest_survey' END AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period,
    lower(substance) AS substance,
    CASE measure_column WHEN 'males_pct' THEN 'male' WHEN 'females_pct' THEN 'female'
         ELSE 'total' END AS sex,
    age, lower(recall_period) AS breakdown,
    value, value_text,
    CASE WHEN measure_column = 'sample_size' THEN 'persons' ELSE '% of age group' END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'gps_current'
UNION ALL
SELECT measure || '_statistical_bulletin' AS measure, geo, geo_level, period, substance, sex,
       age, breakdown, value, value_text, unit, flags, note, source_dataset, snapshot_sha256,
       source_line
FROM bulletin_rows(7)
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 7)
