-- Indicator 8: drug use among school students (ESPAD) and age at first use. Lifetime use
-- among students aged 15-16 by country and drug (EDR annex, school surveys), the age at
-- first use of treatment entrants by primary drug (EDR source data) and the ESPAD average
-- (curated).
SELECT
    CASE WHEN substance = 'cannabis' THEN 'school_survey_lifetime_cannabis'
         ELSE 'school_survey_lifetime_other_drugs' END AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period,
    substance, 'total' AS sex, '15-16' AS age, NULL AS breakdown,
    value, value_text, '% of students (15-16)' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'annex_prevalence' AND measure_column = 'school_lifetime_15_16'
  AND period IS NOT NULL
UNION ALL
SELECT
    'treatment_entrants_age_first_use' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, lower(substance) AS substance, 'total' AS sex,
    NULL AS age, NULL AS breakdown, value, value_text, 'years' AS unit, flags, note,
    source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'tdi_characteristics' AND measure_column = 'age_first_use'
UNION ALL
SELECT * FROM curated_rows('staging.curated_espad', 8)
