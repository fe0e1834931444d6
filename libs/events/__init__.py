"""The event contract: event models, identities, codec, topic registry and Kafka helpers.

Import submodules directly (libs.events.station, libs.events.codec, …); this package
imports nothing so that libs.catalog can depend on the envelope without a cycle.
"""
