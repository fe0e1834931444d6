"""Who is connecting: OCPP security profiles 1-3 checked before the WebSocket upgrade.

Profiles 1/2 (OCPP 1.6 security whitepaper §2, 2.0.1 A00.FR.2xx): HTTP Basic auth, the username is
the station id of the URL and the password the station's AuthorizationKey, verified against the
catalog's hash (a rotated credential wins, CatalogIndex.credential). Profile 3: a client
certificate, from TLS terminated in-process or a trusted proxy's header; its CN must be the
station id and, when configured, its O the operator; revoked certificates fail the TLS handshake
(in-process, CRL file) or arrive with a failed verify header (proxy).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from libs.catalog.credentials import verify_key
from libs.catalog.index import CatalogIndex
from services.gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Identity:
    station_id: str
    method: str  # basic, certificate, none (auth off)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # unknown_station, bad_credentials, wrong_station, certificate_required, …


def parse_dn(dn: str) -> dict[str, str]:
    """'CN=CS1,O=DE*VST' (RFC 4514 order or the '/CN=…/O=…' form) -> {'CN': 'CS1', 'O': 'DE*VST'}."""
    parts = dn.strip("/").split("/") if dn.startswith("/") else _split_escaped(dn)
    out: dict[str, str] = {}
    for part in parts:
        if "=" in part:
            k, v = part.split("=", 1)
            out.setdefault(k.strip().upper(), v.strip().replace("\\,", ","))
    return out


def _split_escaped(dn: str) -> list[str]:
    parts, cur, i = [], "", 0
    while i < len(dn):
        if dn[i] == "\\" and i + 1 < len(dn):
            cur += dn[i:i + 2]
            i += 2
            continue
        if dn[i] == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += dn[i]
        i += 1
    parts.append(cur)
    return parts


def subject_of(peercert: dict) -> dict[str, str]:
    """ssl.getpeercert() subject -> {'CN': …, 'O': …}."""
    names = {"commonName": "CN", "organizationName": "O"}
    out: dict[str, str] = {}
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key in names:
                out.setdefault(names[key], value)
    return out


class Authenticator:
    def __init__(self, index: CatalogIndex, settings: GatewaySettings):
        self.index = index
        self.settings = settings

    def authenticate(self, station_id: str, headers, peercert: dict | None, remote_ip: str | None) -> Identity | Refusal:
        if not self.settings.auth:
            return Identity(station_id, "none")
        credential = self.index.credential(station_id)
        if credential is None:
            return Refusal(401, "unknown_station")
        subject = self._certificate_subject(headers, peercert, remote_ip)
        if isinstance(subject, Refusal):
            return subject
        if subject is not None:
            if subject.get("CN") != station_id:
                return Refusal(401, "wrong_station")
            org = self.settings.certificate_organization
            if org is not None and subject.get("O") != org:
                return Refusal(401, "wrong_organization")
            return Identity(station_id, "certificate")
        if credential.security_profile >= 3:
            return Refusal(401, "certificate_required")
        if credential.security_profile == 0:
            return Identity(station_id, "none")
        user, password = _basic(headers.get("Authorization"))
        if user is None:
            return Refusal(401, "credentials_required")
        if user != station_id:
            return Refusal(401, "wrong_station")
        if not credential.authorization_key_hash or not verify_key(password, credential.authorization_key_hash):
            return Refusal(401, "bad_credentials")
        return Identity(station_id, "basic")

    def _certificate_subject(self, headers, peercert, remote_ip) -> dict[str, str] | Refusal | None:
        if peercert:
            return subject_of(peercert)
        header = self.settings.client_cert_subject_header
        if header and headers.get(header):
            if remote_ip not in self.settings.trusted_proxies:
                return Refusal(401, "untrusted_proxy")
            if (headers.get(self.settings.client_cert_verify_header) or "").upper() != "SUCCESS":
                return Refusal(401, "certificate_not_verified")  # includes revoked
            return parse_dn(headers[header])
        return None


def _basic(value: str | None) -> tuple[str | None, str]:
    if not value or not value.lower().startswith("basic "):
        return None, ""
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, "")
