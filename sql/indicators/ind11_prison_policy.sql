-- Indicator 11: Member States with a comprehensive, balanced prison drug policy (curated
-- from Member State reporting).
SELECT * FROM curated_rows('staging.curated_prison_policy', 11)
