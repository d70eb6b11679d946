-- EU27 sums of count measures computed from Member State values (value_origin 'computed').
-- Every row says how many of the 27 Member States reported and which did not, so a partial
-- sum is never silent; `complete` is true only when all 27 reported. Where the publisher
-- gives its own EU27 figure, it is shown beside ours (published_value), never mixed in.
CREATE OR REPLACE TABLE trends.eu_aggregates AS
WITH members AS (
    SELECT geo FROM meta.geo WHERE eu27
),
member_obs AS (
    SELECT s.*
    FROM trends.series AS s
    JOIN members USING (geo)
    WHERE s.unit = 'count' AND s.value_origin = 'published'
),
sums AS (
    SELECT indicator_id, measure, substance, sex, age, breakdown, unit, period,
           sum(value) AS value,
           count(DISTINCT geo) AS reporting_member_states,
           list(DISTINCT geo ORDER BY geo) AS reporting,
           list(DISTINCT source_dataset ORDER BY source_dataset) AS source_datasets
    FROM member_obs
    GROUP BY ALL
),
published AS (
    SELECT indicator_id, measure, substance, sex, age, breakdown, unit, period,
           value AS published_value
    FROM trends.series
    WHERE geo IN ('EU27_2020') AND value_origin = 'published'
)
SELECT
    s.indicator_id, s.measure, 'EU27_2020' AS geo, s.substance, s.sex, s.age, s.breakdown,
    s.unit, s.period, s.value,
    s.reporting_member_states,
    (SELECT count(*) FROM members) AS member_states,
    s.reporting_member_states = (SELECT count(*) FROM members) AS complete,
    list_filter((SELECT list(geo ORDER BY geo) FROM members), lambda g: NOT list_contains(s.reporting, g))
        AS missing_member_states,
    p.published_value,
    'computed' AS value_origin,
    'sum of Member State values' AS method,
    s.source_datasets
FROM sums AS s
LEFT JOIN published AS p
       ON p.indicator_id = s.indicator_id AND p.measure = s.measure AND p.unit = s.unit
      AND p.period = s.period
      AND p.substance IS NOT DISTINCT FROM s.substance AND p.sex IS NOT DISTINCT FROM s.sex
      AND p.age IS NOT DISTINCT FROM s.age AND p.breakdown IS NOT DISTINCT FROM s.breakdown
ORDER BY s.indicator_id, s.measure, s.substance, s.sex, s.age, s.breakdown, s.period
