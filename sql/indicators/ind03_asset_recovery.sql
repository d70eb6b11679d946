-- Indicator 3: asset recovery and financial investigations. No machine-readable source of
-- assets frozen or confiscated exists; police-recorded money laundering offences (Eurostat
-- crim_off_cat, ICCS07041) serve as the proxy INDICATORS.md names, and curated figures
-- join as they are transcribed.
SELECT
    'money_laundering_offences_proxy' || CASE unit WHEN 'P_HTHAB' THEN '_rate' ELSE '' END AS measure,
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
WHERE freq = 'A' AND iccs = 'ICCS07041' AND unit IN ('NR', 'P_HTHAB')
UNION ALL
SELECT * FROM curated_rows(3)
