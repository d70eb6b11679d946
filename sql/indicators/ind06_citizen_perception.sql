-- Indicator 6: citizens' perception. Flash Eurobarometer waves, each with its own question
-- wording (a measure per wording: the waves are not one series).
SELECT * FROM curated_rows('staging.curated_eurobarometer', 6)
