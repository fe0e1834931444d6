"""Plumbing every service shares: structured logs, health/metrics endpoint, signal handling."""
