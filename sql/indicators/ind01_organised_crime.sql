-- Indicator 1: drug-related organised crime.
-- Police-recorded drug offences, with homicide and money laundering as context, from
-- Eurostat crim_off_cat, and drug law offences by drug from the Statistical Bulletin.
SELECT * FROM crime_offence_rows()
UNION ALL
SELECT * FROM bulletin_rows(1)
