-- Indicator 5: EU Early Warning System on new psychoactive substances. Curated figures
-- from the European Drug Report (new substances notified per year, total monitored).
SELECT * FROM curated_rows(5)
