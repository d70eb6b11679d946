-- Indicator 9: drug-related morbidity and mortality.
--   deaths_drug_dependence        Eurostat hlth_cd_aro: deaths, ICD-10 TOXICO (F11-F16, F18-F19)
--   death_rate_drug_dependence    Eurostat hlth_cd_asdr2: standardised death rate, same causes
--   drug_induced_deaths (...)     Statistical Bulletin overdose death tables (by sex, by age)
--   drug_induced_deaths_edr (...) European Drug Report annex: drug-induced deaths (latest year
--                                 per country; EU27 and EU+2 totals), HIV diagnoses related to
--                                 injecting drug use (ECDC, the edition's reference year)
--   EU headline figures           curated from the European Drug Report
SELECT
    'deaths_drug_dependence' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance,
    CASE sex WHEN 'T' THEN 'total' WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS sex,
    CASE age WHEN 'TOTAL' THEN 'total' ELSE age END AS age,
    NULL AS breakdown, value, value_text, 'count' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.eurostat_hlth_cd_aro
WHERE freq = 'A' AND unit = 'NR' AND icd10 = 'TOXICO' AND resid = 'TOT_IN'
UNION ALL
SELECT
    'death_rate_drug_dependence' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance,
    CASE sex WHEN 'T' THEN 'total' WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS sex,
    CASE age WHEN 'TOTAL' THEN 'total' ELSE age END AS age,
    NULL AS breakdown, value, value_text, 'per 100 000 inhabitants (age-standardised)' AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.eurostat_hlth_cd_asdr2
WHERE freq = 'A' AND unit = 'RT' AND icd10 = 'TOXICO'
UNION ALL
SELECT measure, geo, geo_level, period, substance, sex,
       -- the 5-year age tables' breadcrumb ends in the age band (15-19, >=65)
       CASE WHEN regexp_matches(coalesce(breakdown, ''), '^(>=?|<)?\d') THEN breakdown END AS age,
       CASE WHEN regexp_matches(coalesce(breakdown, ''), '^(>=?|<)?\d') THEN NULL ELSE breakdown END
           AS breakdown,
       value, value_text, unit, flags, note, source_dataset, snapshot_sha256, source_line
FROM bulletin_rows(9)
UNION ALL
SELECT
    measure_column || '_edr' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance, 'total' AS sex,
    CASE WHEN measure_column LIKE '%_15_64' THEN '15-64' ELSE 'total' END AS age,
    NULL AS breakdown, value, value_text,
    CASE measure_column
        WHEN 'drug_induced_death_rate_15_64' THEN 'cases per million population (15-64)'
        WHEN 'hiv_diagnoses_injecting_rate' THEN 'cases per million population'
        ELSE 'count'
    END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'annex_other_indicators' AND measure_column <> 'syringes_distributed'
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 9)
