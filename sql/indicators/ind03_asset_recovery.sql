-- Indicator 3: asset recovery and financial investigations. No machine-readable source of
-- assets frozen or confiscated exists; police-recorded money laundering offences (Eurostat
-- crim_off_cat, ICCS07041) serve as the proxy INDICATORS.md names. Curated figures, once
-- transcribed, join with a curated dataset in the indicator's `datasets` and a
-- `curated_rows(...)` branch here.
SELECT replace(measure, 'money_laundering_offences', 'money_laundering_offences_proxy')
           AS measure,
       * EXCLUDE (measure)
FROM crime_offence_rows()
WHERE measure LIKE 'money_laundering_offences%'
