-- EU27 aggregates computed from Member State values (value_origin 'computed'):
--   counts: the sum over the Member States that reported;
--   rates declared in the catalogue with `rate_of` (their count measure): weighted by the
--   population each Member State's pair implies (count / rate * per), i.e. the sum of the
--   counts over the sum of those populations.
-- Every row says how many of the 27 Member States reported and which did not, so a partial
-- aggregate is never silent; `complete` is true only when all 27 reported. Where the
-- publisher gives its own EU27 figure it is shown beside ours (published_value), never mixed.
CREATE OR REPLACE TABLE trends.eu_aggregates AS
WITH members AS (
    SELECT geo FROM meta.geo WHERE eu27
),
member_obs AS (
    SELECT s.*
    FROM trends.series AS s
    JOIN members USING (geo)
    WHERE s.value_origin = 'published'
),
sums AS (
    SELECT indicator_id, measure, substance, sex, age, breakdown, unit, period,
           sum(value) AS value,
           list(DISTINCT geo ORDER BY geo) AS reporting,
           list(DISTINCT source_dataset ORDER BY source_dataset) AS source_datasets,
           'sum of Member State values' AS method
    FROM member_obs
    WHERE unit = 'count'
    GROUP BY ALL
),
rates AS (
    SELECT r.indicator_id, r.measure, r.substance, r.sex, r.age, r.breakdown, r.unit, r.period,
           sum(c.value) / sum(c.value / r.value * m.per) * m.per AS value,
           list(DISTINCT r.geo ORDER BY r.geo) AS reporting,
           list(DISTINCT r.source_dataset ORDER BY r.source_dataset) AS source_datasets,
           'population-weighted mean of Member State rates (population = count / rate * '
               || CAST(m.per AS BIGINT) || ')' AS method
    FROM member_obs AS r
    JOIN meta.measures AS m ON m.indicator_id = r.indicator_id AND m.measure = r.measure
    JOIN member_obs AS c
      ON c.indicator_id = r.indicator_id AND c.measure = m.rate_of AND c.geo = r.geo
     AND c.period = r.period
     AND c.substance IS NOT DISTINCT FROM r.substance AND c.sex IS NOT DISTINCT FROM r.sex
     AND c.age IS NOT DISTINCT FROM r.age AND c.breakdown IS NOT DISTINCT FROM r.breakdown
    WHERE m.rate_of IS NOT NULL AND r.value > 0 AND c.value > 0
    GROUP BY r.indicator_id, r.measure, r.substance, r.sex, r.age, r.breakdown, r.unit,
             r.period, m.per
),
aggregates AS (
    SELECT * FROM sums UNION ALL SELECT * FROM rates
),
published AS (
    SELECT indicator_id, measure, substance, sex, age, breakdown, unit, period,
           value AS published_value
    FROM trends.series
    WHERE geo = 'EU27_2020' AND value_origin = 'published'
)
SELECT
    a.indicator_id, a.measure, 'EU27_2020' AS geo, a.substance, a.sex, a.age, a.breakdown,
    a.unit, a.period, a.value,
    len(a.reporting) AS reporting_member_states,
    (SELECT count(*) FROM members) AS member_states,
    len(a.reporting) = (SELECT count(*) FROM members) AS complete,
    list_filter((SELECT list(geo ORDER BY geo) FROM members),
                lambda g: NOT list_contains(a.reporting, g)) AS missing_member_states,
    p.published_value,
    'computed' AS value_origin,
    a.method,
    a.source_datasets
FROM aggregates AS a
LEFT JOIN published AS p
       ON p.indicator_id = a.indicator_id AND p.measure = a.measure AND p.unit = a.unit
      AND p.period = a.period
      AND p.substance IS NOT DISTINCT FROM a.substance AND p.sex IS NOT DISTINCT FROM a.sex
      AND p.age IS NOT DISTINCT FROM a.age AND p.breakdown IS NOT DISTINCT FROM a.breakdown
ORDER BY a.indicator_id, a.measure, a.substance, a.sex, a.age, a.breakdown, a.period
