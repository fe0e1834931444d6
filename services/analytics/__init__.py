"""Analytics sink: Kafka -> ClickHouse (meter data, sessions, CDRs, station events, OCPP frames),
versioned schema migrations and a read-only ClickHouse-HTTP query endpoint for analysts."""
