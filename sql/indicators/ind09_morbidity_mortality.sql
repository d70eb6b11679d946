-- Indicator 9: drug-related morbidity and mortality.
-- Deaths from drug dependence and toxicomania (ICD-10 F11-F16, F18-F19), residents,
-- Eurostat hlth_cd_aro (number of deaths, by sex).
SELECT
    'deaths_drug_dependence' AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    NULL AS substance,
    CASE sex WHEN 'T' THEN 'total' WHEN 'M' THEN 'male' WHEN 'F' THEN 'female' END AS sex,
    CASE age WHEN 'TOTAL' THEN 'total' ELSE age END AS age,
    NULL AS breakdown,
    value,
    value_text,
    'count' AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.eurostat_hlth_cd_aro
WHERE freq = 'A'
  AND unit = 'NR'
  AND icd10 = 'F11-F16_F18_F19'
  AND resid = 'TOT_IN'
