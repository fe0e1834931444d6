-- voltstream analytics schema, version 2: replay-safe materialized views.
-- Every state below is idempotent (min, max, maxMap, groupUniqArray, uniqExact): feeding the
-- same rows twice (a Kafka replay, a retried batch) leaves every merged result unchanged, so
-- no insert-deduplication token is needed. Read them with the *Merge functions (docs/analytics.md).

-- Energy per station per hour: the hour's lowest and highest energy register per EVSE.
-- The energy of an hour is its highest register minus the previous hour's highest
-- (view energy_per_station_hour), which counts energy between samples across the hour edge too.
CREATE TABLE IF NOT EXISTS {db}.energy_hourly
(
    station_id      LowCardinality(String),
    evse_id         UInt16,
    hour            DateTime('UTC'),
    register_min_wh AggregateFunction(min, Float64),
    register_max_wh AggregateFunction(max, Float64),
    power_max_w     AggregateFunction(max, Float64),
    samples         AggregateFunction(uniqExact, UUID)   -- register samples
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (station_id, evse_id, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.energy_hourly_mv TO {db}.energy_hourly AS
SELECT
    station_id,
    evse_id,
    toStartOfHour(toDateTime(occurred_at, 'UTC')) AS hour,
    minStateIf(value, measurand = 'Energy.Active.Import.Register') AS register_min_wh,
    maxStateIf(value, measurand = 'Energy.Active.Import.Register') AS register_max_wh,
    maxStateIf(value, measurand = 'Power.Active.Import') AS power_max_w,
    uniqExactStateIf(event_id, measurand = 'Energy.Active.Import.Register') AS samples
FROM {db}.meter_values
WHERE phase = '' AND location IN ('', 'Outlet')
  AND measurand IN ('Energy.Active.Import.Register', 'Power.Active.Import')
GROUP BY station_id, evse_id, hour;

-- Hours with register samples only; energy = this hour's highest register minus the previous
-- such hour's highest (a meter reset falls back to this hour's own span).
CREATE VIEW IF NOT EXISTS {db}.energy_per_evse_hour AS
SELECT station_id, evse_id, hour, max_wh AS register_max_wh, n AS samples, pmax AS power_max_w,
       max_wh - if(prev_max_wh IS NOT NULL AND prev_max_wh <= max_wh, prev_max_wh, min_wh) AS energy_wh
FROM
(
    SELECT station_id, evse_id, hour, min_wh, max_wh, pmax, n,
           lagInFrame(toNullable(max_wh)) OVER
               (PARTITION BY station_id, evse_id ORDER BY hour ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev_max_wh
    FROM
    (
        SELECT station_id, evse_id, hour,
               minMerge(register_min_wh) AS min_wh,
               maxMerge(register_max_wh) AS max_wh,
               maxMerge(power_max_w) AS pmax,
               uniqExactMerge(samples) AS n
        FROM {db}.energy_hourly
        GROUP BY station_id, evse_id, hour
        HAVING n > 0
    )
);

CREATE VIEW IF NOT EXISTS {db}.energy_per_station_hour AS
SELECT station_id, hour, sum(energy_wh) AS energy_wh, max(power_max_w) AS power_max_w
FROM {db}.energy_per_evse_hour
GROUP BY station_id, hour;

-- EVSE utilisation per day (UTC): seconds each session occupied the EVSE that day. A session is
-- published again on every change; maxMap keeps the longest overlap seen per session, so later
-- versions extend it and replays change nothing.
CREATE TABLE IF NOT EXISTS {db}.evse_occupancy_daily
(
    station_id      LowCardinality(String),
    evse_id         UInt16,
    day             Date,
    occupied        AggregateFunction(maxMap, Array(String), Array(UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (station_id, evse_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.evse_occupancy_daily_mv TO {db}.evse_occupancy_daily AS
SELECT
    station_id,
    evse_id,
    day,
    maxMapState([session_id], [toUInt64(greatest(0, dateDiff('millisecond',
        greatest(start_date_time, toDateTime64(day, 3, 'UTC')),
        least(session_end, toDateTime64(day + 1, 3, 'UTC')))))]) AS occupied
FROM
(
    SELECT station_id, evse_id, session_id, start_date_time,
           ifNull(end_date_time, last_updated) AS session_end
    FROM {db}.sessions
)
ARRAY JOIN arrayMap(i -> toDate(start_date_time, 'UTC') + i,
                    range(toUInt32(greatest(0, dateDiff('day', toDate(start_date_time, 'UTC'), toDate(session_end, 'UTC'))) + 1))) AS day
GROUP BY station_id, evse_id, day;

CREATE VIEW IF NOT EXISTS {db}.evse_utilisation_daily AS
SELECT station_id, evse_id, day,
       length(mapKeys(m)) AS sessions,
       arraySum(mapValues(m)) / 1000 AS occupied_seconds,
       round(arraySum(mapValues(m)) / 1000 / 86400, 4) AS utilisation
FROM
(
    SELECT station_id, evse_id, day, CAST(maxMapMerge(occupied), 'Map(String, UInt64)') AS m
    FROM {db}.evse_occupancy_daily
    GROUP BY station_id, evse_id, day
);

-- Time per status: every status change kept once per (station, EVSE, day) as a set.
CREATE TABLE IF NOT EXISTS {db}.status_changes_daily
(
    station_id      LowCardinality(String),
    evse_id         UInt16,
    day             Date,
    changes         AggregateFunction(groupUniqArray, Tuple(DateTime64(3, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (station_id, evse_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.status_changes_daily_mv TO {db}.status_changes_daily AS
SELECT station_id, evse_id, toDate(occurred_at, 'UTC') AS day,
       groupUniqArrayState((occurred_at, toString(status))) AS changes
FROM {db}.station_status
GROUP BY station_id, evse_id, day;

-- Closed intervals only (a status lasts until the next change of that EVSE); the open current
-- status is not counted, so results do not depend on when you ask. Counted on the day it began.
CREATE VIEW IF NOT EXISTS {db}.time_per_status AS
SELECT station_id, evse_id, toDate(since, 'UTC') AS day, status,
       count() AS intervals,
       sum(dateDiff('millisecond', since, until)) / 1000 AS seconds
FROM
(
    SELECT station_id, evse_id, c.1 AS since, c.2 AS status,
           leadInFrame(toNullable(c.1)) OVER
               (PARTITION BY station_id, evse_id ORDER BY c.1 ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS until
    FROM
    (
        SELECT station_id, evse_id, arrayJoin(groupUniqArrayMerge(changes)) AS c
        FROM {db}.status_changes_daily
        GROUP BY station_id, evse_id
    )
)
WHERE until IS NOT NULL
GROUP BY station_id, evse_id, day, status;
