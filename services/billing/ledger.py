"""What billing already issued, folded from the `cdrs` topic (its own output).

Per session: the highest session version a CDR was issued for, and the CDR currently standing
(issued and not credited). The service rebuilds this on start by reading `cdrs` to its end and
keeps following it, so a credit made by hand (`voltstream cdr credit`) is seen too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from libs.events.sessions import CdrRecord


@dataclass
class SessionEntry:
    version: int = -1  # highest session version a (non-credit) CDR was issued for
    standing: CdrRecord | None = None  # issued, not credited


@dataclass
class Plan:
    issue: bool
    credit: CdrRecord | None = None  # to credit first
    why: str = ""


@dataclass
class CdrLedger:
    sessions: dict[str, SessionEntry] = field(default_factory=dict)
    cdrs: dict[str, CdrRecord] = field(default_factory=dict)
    credited: set[str] = field(default_factory=set)

    def apply(self, rec: CdrRecord) -> None:
        self.cdrs[rec.cdr_id] = rec
        entry = self.sessions.setdefault(rec.session_id, SessionEntry())
        if rec.credit:
            self.credited.add(rec.credit_reference_id or "")
            if entry.standing is not None and entry.standing.cdr_id == rec.credit_reference_id:
                entry.standing = None
            return
        if rec.session_version >= entry.version:
            entry.version = rec.session_version
            entry.standing = None if rec.cdr_id in self.credited else rec

    def plan(self, session_id: str, version: int) -> Plan:
        """Issue a CDR for this final session version? Credit the standing one first?"""
        entry = self.sessions.get(session_id)
        if entry is None:
            return Plan(issue=True)
        if version <= entry.version:
            return Plan(issue=False, why="already_billed" if version == entry.version else "stale")
        return Plan(issue=True, credit=entry.standing)
