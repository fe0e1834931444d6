-- voltstream analytics schema, version 1: the five fact tables.
-- Placeholders: {db}, {meter_ttl_days}, {frames_ttl_days} (rendered by services/analytics/migrations.py).
-- Every table is a ReplacingMergeTree whose sorting key contains the event identity, so a
-- replayed or re-sent event collapses into the row already there (read with FINAL, see docs/analytics.md).

CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.meter_values
(
    event_id        UUID,
    station_id      LowCardinality(String),
    evse_id         UInt16,            -- 0: station-level meter (1.6 connector 0) or not given
    connector_id    UInt16,
    transaction_ref String,
    session_id      String,
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    clock_suspect   Bool,
    measurand       LowCardinality(String),
    phase           LowCardinality(String),
    location        LowCardinality(String),
    context         LowCardinality(String),
    value           Float64,
    unit            LowCardinality(String),   -- base unit: Wh, W, A, V, …
    signed_data     String CODEC(ZSTD(3)),    -- as the charger sent it (JSON text), '' when none
    seq_no          Nullable(Int64),
    source          LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (station_id, evse_id, measurand, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL {meter_ttl_days} DAY DELETE;

CREATE TABLE IF NOT EXISTS {db}.sessions
(
    session_id              String,
    version                 UInt64,
    event_id                UUID,
    station_id              LowCardinality(String),
    evse_id                 UInt16,
    connector_id            UInt16,
    transaction_ref         String,
    country_code            LowCardinality(String),
    party_id                LowCardinality(String),
    location_id             String,
    evse_uid                String,
    connector_uid           String,
    currency                LowCardinality(String),
    tariff_ids              Array(String),
    token_uid               String,
    token_type              LowCardinality(String),
    contract_id             String,
    auth_method             LowCardinality(String),
    start_date_time         DateTime64(3, 'UTC'),
    end_date_time           Nullable(DateTime64(3, 'UTC')),
    meter_start_wh          Nullable(Float64),
    meter_stop_wh           Nullable(Float64),
    kwh                     Decimal(18, 6),
    charging_seconds        Float64,
    suspended_seconds       Float64,
    idle_seconds            Float64,
    max_power_w             Nullable(Float64),
    status                  LowCardinality(String),
    final                   Bool,
    amended                 Bool,
    flags                   Array(LowCardinality(String)),
    last_updated            DateTime64(3, 'UTC'),
    received_at             DateTime64(3, 'UTC'),
    charging_periods        String CODEC(ZSTD(3))   -- JSON, as published
)
ENGINE = ReplacingMergeTree(version)
ORDER BY session_id;

CREATE TABLE IF NOT EXISTS {db}.cdrs
(
    cdr_id                  String,
    event_id                UUID,
    session_id              String,
    session_version         UInt64,
    credit                  Bool,
    credit_reference_id     String,
    country_code            LowCardinality(String),
    party_id                LowCardinality(String),
    location_id             String,
    evse_uid                String,
    station_id              LowCardinality(String),
    start_date_time         DateTime64(3, 'UTC'),
    end_date_time           DateTime64(3, 'UTC'),
    currency                LowCardinality(String),
    tariff_ids              Array(String),
    token_uid               String,
    contract_id             String,
    auth_method             LowCardinality(String),
    total_energy_kwh        Decimal(18, 6),
    total_time_hours        Decimal(18, 6),
    total_parking_time_hours Decimal(18, 6),
    total_cost_excl_vat     Decimal(18, 4),
    total_cost_incl_vat     Nullable(Decimal(18, 4)),
    total_energy_cost_excl_vat Nullable(Decimal(18, 4)),
    total_time_cost_excl_vat Nullable(Decimal(18, 4)),
    last_updated            DateTime64(3, 'UTC'),
    received_at             DateTime64(3, 'UTC'),
    cdr                     String CODEC(ZSTD(3))   -- the OCPI 2.2.1 CDR exactly as partners receive it
)
ENGINE = ReplacingMergeTree
ORDER BY cdr_id;

CREATE TABLE IF NOT EXISTS {db}.station_status
(
    event_id            UUID,
    station_id          LowCardinality(String),
    evse_id             UInt16,            -- 0: the whole station
    connector_id        UInt16,            -- 0: not given
    occurred_at         DateTime64(3, 'UTC'),
    received_at         DateTime64(3, 'UTC'),
    clock_suspect       Bool,
    status              LowCardinality(String),   -- Available, Occupied, Reserved, Unavailable, Faulted
    detail              LowCardinality(String),   -- 1.6 Preparing, Charging, SuspendedEV, …
    error_code          LowCardinality(String),
    info                String,
    vendor_id           String,
    vendor_error_code   String,
    source              LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (station_id, evse_id, connector_id, occurred_at, event_id);

-- Every other station fact (boot, connected, disconnected, firmware, security, …), payload as JSON.
CREATE TABLE IF NOT EXISTS {db}.station_events
(
    event_id        UUID,
    type            LowCardinality(String),
    station_id      LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    clock_suspect   Bool,
    source          LowCardinality(String),
    payload         String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (station_id, type, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS {db}.ocpp_frames
(
    event_id        UUID,
    station_id      LowCardinality(String),
    connection_id   String,
    seq             UInt64,
    direction       LowCardinality(String),   -- in: from the charger, out: to the charger
    protocol        LowCardinality(String),
    message_type    UInt8,                    -- 2 CALL, 3 CALLRESULT, 4 CALLERROR
    message_id      String,
    action          LowCardinality(String),
    occurred_at     DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    raw             String CODEC(ZSTD(3)),
    error_code      LowCardinality(String) MATERIALIZED if(message_type = 4, JSONExtractString(raw, 3), '')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(occurred_at)
ORDER BY (station_id, connection_id, seq, direction, event_id)
TTL toDateTime(occurred_at) + INTERVAL {frames_ttl_days} DAY DELETE;
