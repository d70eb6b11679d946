-- Indicator 8: drug use among school students (ESPAD). Lifetime cannabis use among students
-- aged 15-16 by country (EDR annex, school surveys) and the ESPAD average (curated).
SELECT
    'school_survey_lifetime_cannabis' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    'cannabis' AS substance, 'total' AS sex, '15-16' AS age, NULL AS breakdown,
    value, value_text, '% of students (15-16)' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.euda_edr_cannabis_annex_prevalence
WHERE measure_column = 'school_lifetime_15_16' AND period IS NOT NULL
UNION ALL
SELECT * FROM curated_rows(8)
