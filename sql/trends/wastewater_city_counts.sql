-- How many cities increased, stayed stable or decreased, per substance and campaign year
-- (the EUDA's own summary of its wastewater release).
CREATE OR REPLACE TABLE trends.wastewater_city_counts AS
SELECT
    substance,
    year,
    count(*) FILTER (WHERE change_class = 'increase') AS cities_increase,
    count(*) FILTER (WHERE change_class = 'stable') AS cities_stable,
    count(*) FILTER (WHERE change_class = 'decrease') AS cities_decrease,
    count(*) FILTER (WHERE change_class = 'no previous data') AS cities_no_previous_data,
    count(*) AS cities,
    any_value(source_dataset) AS source_dataset,
    any_value(snapshot_sha256) AS snapshot_sha256
FROM trends.wastewater_city_change
GROUP BY substance, year
ORDER BY substance, year;
