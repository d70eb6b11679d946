-- Indicator 1: drug-related organised crime.
-- Police-recorded drug offences, with homicide and money laundering as context, from
-- Eurostat crim_off_cat (NR = number, P_HTHAB = per hundred thousand inhabitants), and
-- drug law offences by drug from the Statistical Bulletin.
SELECT
    CASE iccs
        WHEN 'ICCS0601' THEN 'drug_law_offences'
        WHEN 'ICCS0101' THEN 'homicide'
        WHEN 'ICCS07041' THEN 'money_laundering_offences'
    END || CASE unit WHEN 'P_HTHAB' THEN '_rate' ELSE '' END AS measure,
    geo,
    geo_level,
    CAST(period AS INTEGER) AS period,
    NULL AS substance,
    NULL AS sex,
    NULL AS age,
    NULL AS breakdown,
    value,
    value_text,
    CASE unit WHEN 'NR' THEN 'count' WHEN 'P_HTHAB' THEN 'per 100 000 inhabitants' END AS unit,
    flags,
    note,
    source_dataset,
    snapshot_sha256,
    line AS source_line
FROM staging.eurostat_crim_off_cat
WHERE freq = 'A'
  AND iccs IN ('ICCS0601', 'ICCS0101', 'ICCS07041')
  AND unit IN ('NR', 'P_HTHAB')
UNION ALL
SELECT * FROM bulletin_rows(1)
UNION ALL
SELECT * FROM curated_rows(1)
