"""OCPI 2.2.1 CPO adapter: read model from Kafka topics, partner API, push to partners."""
