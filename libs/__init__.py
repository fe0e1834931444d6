"""Shared code of the voltstream services: the event contract, reference data, OCPI types."""
