"""Operator reference data: catalog file models and loader, publisher, the catalog index and
the presence view. Import submodules directly."""
