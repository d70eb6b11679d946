-- Indicator 10: availability of treatment and harm-reduction services. Statistical
-- Bulletin (opioid agonist treatment clients, syringes distributed, treatment entrants),
-- EDR source data (treatment entrants by primary drug, OAT clients, syringes distributed,
-- countries with each harm-reduction intervention, drug consumption facilities by city)
-- and curated EU headline figures.
SELECT * FROM bulletin_rows(10)
UNION ALL
-- annex: entrants with the drug as primary drug (two tables per drug for some drugs, with
-- one header: `breakdown` names the table)
SELECT
    CASE WHEN measure_column LIKE '%_count' THEN 'treatment_entrants_primary_drug'
         ELSE 'treatment_entrants_primary_drug_share' END AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period, substance,
    'total' AS sex, NULL AS age,
    CASE WHEN measure_column LIKE 'all_%' THEN 'all entrants'
         WHEN measure_column LIKE 'first_time_%' THEN 'first-time entrants'
         ELSE 'previously treated entrants' END || ' (EDR ' || edr_table || ')' AS breakdown,
    value, value_text,
    CASE WHEN measure_column LIKE '%_count' THEN 'count' ELSE '% of entrants' END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'annex_treatment_entrants'
UNION ALL
SELECT
    'treatment_entrants_primary_drug' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, lower(substance) AS substance, 'total' AS sex,
    NULL AS age,
    CASE measure_column WHEN 'first_time_entrants' THEN 'first-time entrants'
         ELSE 'previously treated entrants' END || ' (EDR ' || edr_table || ')' AS breakdown,
    value, value_text, 'count' AS unit, flags, note, source_dataset, snapshot_sha256,
    line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'tdi_characteristics'
  AND measure_column IN ('first_time_entrants', 'previously_treated_entrants')
UNION ALL
SELECT
    'oat_clients' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance, 'total' AS sex, NULL AS age, 'EDR ' || edr_table AS breakdown,
    value, value_text, 'count' AS unit, flags, note, source_dataset, snapshot_sha256,
    line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'annex_oat_clients'
UNION ALL
SELECT
    'syringes_distributed_edr' AS measure, geo, geo_level, CAST(period AS INTEGER) AS period,
    NULL AS substance, 'total' AS sex, NULL AS age, NULL AS breakdown,
    value, value_text, 'syringes' AS unit, flags, note, source_dataset, snapshot_sha256,
    line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'annex_other_indicators' AND measure_column = 'syringes_distributed'
UNION ALL
SELECT
    'countries_with_intervention' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, NULL AS substance, 'total' AS sex, NULL AS age,
    breakdown, value, value_text, 'countries' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.euda_edr
-- the table starts in 1967; the indicator tables cover the monitoring horizon (from 1980)
WHERE table_rule = 'harm_reduction_availability' AND CAST(period AS INTEGER) >= 1980
UNION ALL
SELECT
    'drug_consumption_facilities' AS measure, geo, geo_level,
    CAST(period AS INTEGER) AS period, NULL AS substance, 'total' AS sex, NULL AS age,
    breakdown, value, value_text, 'facilities' AS unit, flags, note, source_dataset,
    snapshot_sha256, line AS source_line
FROM staging.euda_edr
WHERE table_rule = 'drug_consumption_rooms'
UNION ALL
SELECT * FROM curated_rows('staging.curated_eu_headlines', 10)
