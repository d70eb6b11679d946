-- Indicator 10: availability of treatment and harm-reduction services. Statistical
-- Bulletin (opioid agonist treatment clients, syringes distributed, treatment entrants),
-- EDR annex (cannabis users entering treatment) and curated EU headline figures.
SELECT * FROM bulletin_rows(10)
UNION ALL
SELECT
    CASE WHEN measure_column LIKE '%_count' THEN 'cannabis_treatment_entrants'
         ELSE 'cannabis_treatment_entrants_share' END AS measure,
    geo, geo_level, CAST(period AS INTEGER) AS period, 'cannabis' AS substance,
    NULL AS sex, NULL AS age,
    CASE WHEN measure_column LIKE 'all_%' THEN 'all entrants'
         WHEN measure_column LIKE 'first_time_%' THEN 'first-time entrants'
         ELSE 'previously treated entrants' END AS breakdown,
    value, value_text,
    CASE WHEN measure_column LIKE '%_count' THEN 'count' ELSE '% of entrants' END AS unit,
    flags, note, source_dataset, snapshot_sha256, line AS source_line
FROM staging.euda_edr_cannabis_annex_treatment
UNION ALL
SELECT * FROM curated_rows(10)
