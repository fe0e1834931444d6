"""Prometheus metrics of the billing service."""

from __future__ import annotations

from prometheus_client import Counter

CDRS_ISSUED = Counter("voltstream_billing_cdrs_issued_total", "CDRs issued", ["kind"])  # cdr / credit
SESSIONS_REJECTED = Counter(
    "voltstream_billing_sessions_rejected_total", "Final sessions sent to dlq.billing", ["reason"]
)
SESSIONS_SKIPPED = Counter(
    "voltstream_billing_sessions_skipped_total", "Session versions not billed", ["why"]
)  # not_final / stale / already_billed / unchanged
