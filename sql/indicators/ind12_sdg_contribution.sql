-- Indicator 12: contribution to the 2030 Agenda. EU SDG indicators relevant to drugs and
-- crime: sdg_16_20 (crime, violence or vandalism in the area, % of population) and
-- sdg_16_10 (standardised death rate due to homicide, JSON-stat API).
SELECT
    'crime_violence_vandalism_in_area' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, NULL AS substance, NULL AS sex, NULL AS age,
    NULL AS breakdown, value, value_text, '% of population' AS unit, flags, note,
    source_dataset, snapshot_sha256, line AS source_line
FROM staging.eurostat_sdg_16_20
WHERE freq = 'A' AND incgrp = 'TOTAL' AND unit = 'PC'
UNION ALL
SELECT
    'homicide_death_rate' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance, NULL AS sex, NULL AS age, NULL AS breakdown, value, value_text,
    'per 100 000 persons (age-standardised)' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.eurostat_sdg_16_10
WHERE unit = 'RT' AND sex = 'T' AND icd10 = 'X85-Y09_Y871'
