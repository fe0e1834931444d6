"""Commands client: send a version-neutral command to a station over Kafka and await its result."""
