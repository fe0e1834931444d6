"""HTTP layer: one FastAPI router per OCPI module, shared envelope/auth/pagination helpers."""
