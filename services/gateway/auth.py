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
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

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


# Subject attributes the checks read; a subject naming one of them twice is ambiguous: refused.
CHECKED = ("CN", "O")
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_dn(dn: str) -> list[tuple[str, str]]:
    r"""A TLS proxy's subject header -> [(attribute, value)], in the two forms nginx / Apache send.

    RFC 4514 (nginx $ssl_client_s_dn, Apache SSL_CLIENT_S_DN): 'CN=CS1,O=ACME\, Inc.', OpenSSL
    escaping every non-ASCII byte as \XX ('M\C3\BCnchen'), multi-valued RDNs joined by '+'.
    Legacy (nginx $ssl_client_s_dn_legacy): '/O=ACME/CN=CS1', non-ASCII bytes as \xC3\xBC.
    """
    legacy = dn.startswith("/")
    rdns = _split_unescaped(dn[1:], "/") if legacy else _split_unescaped(dn, ",")
    out: list[tuple[str, str]] = []
    for rdn in rdns:
        for ava in ([rdn] if legacy else _split_unescaped(rdn, "+")):
            name, sep, value = ava.partition("=")
            if sep:
                out.append((name.strip().upper(), _unescape(value.lstrip(), legacy)))
    return out


def _split_unescaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped; escapes stay in the parts."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == separator:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _hex_byte(text: str) -> int | None:
    return int(text, 16) if len(text) == 2 and set(text) <= _HEX else None


def _unescape(value: str, legacy: bool) -> str:
    r"""Resolve \<char> and hex-escaped bytes (\XX; legacy \xXX), then decode the bytes as UTF-8."""
    out, i = bytearray(), 0
    while i < len(value):
        if value[i] != "\\" or i + 1 == len(value):
            out += value[i].encode()
            i += 1
        elif legacy and value[i + 1] == "x" and _hex_byte(value[i + 2:i + 4]) is not None:
            out.append(_hex_byte(value[i + 2:i + 4]))
            i += 4
        elif _hex_byte(value[i + 1:i + 3]) is not None:
            out.append(_hex_byte(value[i + 1:i + 3]))
            i += 3
        else:
            out += value[i + 1].encode()
            i += 2
    return out.decode("utf-8", errors="replace")


def subject_of(peercert: dict) -> list[tuple[str, str]]:
    """ssl.getpeercert() subject -> [(attribute, value)] with the short names CN and O."""
    names = {"commonName": "CN", "organizationName": "O"}
    return [(names.get(key, key), value) for rdn in peercert.get("subject", ()) for key, value in rdn]


def checked_subject(attributes: list[tuple[str, str]]) -> dict[str, str] | Refusal:
    """{'CN': …, 'O': …}; a subject with two CNs (or two Os) could be read either way: refused."""
    subject: dict[str, str] = {}
    for name, value in attributes:
        if name in CHECKED:
            if name in subject:
                return Refusal(401, "ambiguous_subject")
            subject[name] = value
    return subject


def trusted_networks(entries: list[str]) -> list[IPv4Network | IPv6Network]:
    """Addresses or CIDR networks (a proxy's pods change address; their network does not)."""
    return [ip_network(entry.strip(), strict=False) for entry in entries]


def is_trusted(remote_ip: str | None, networks: list[IPv4Network | IPv6Network]) -> bool:
    try:
        address = ip_address(remote_ip or "")
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # an IPv4 proxy seen through a dual-stack socket
    return any(address in network for network in networks)


class Authenticator:
    def __init__(self, index: CatalogIndex, settings: GatewaySettings):
        self.index = index
        self.settings = settings
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)  # a bad entry fails at start
        # headers that decide who connects: each must come at most once (a proxy that appends
        # rather than overwrites would otherwise let a charger's own value through)
        self.deciding_headers = ["Authorization"]
        if settings.client_cert_subject_header:
            self.deciding_headers += [settings.client_cert_subject_header, settings.client_cert_verify_header]

    def authenticate(self, station_id: str, headers, peercert: dict | None, remote_ip: str | None) -> Identity | Refusal:
        if not self.settings.auth:
            return Identity(station_id, "none")
        if any(len(headers.get_all(name)) > 1 for name in self.deciding_headers):
            return Refusal(400, "repeated_header")
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
        if peercert:  # verified by the TLS handshake (CA, CRL); empty when no certificate was sent
            return checked_subject(subject_of(peercert))
        header = self.settings.client_cert_subject_header
        if header and headers.get(header):
            if not is_trusted(remote_ip, self.trusted_proxies):
                return Refusal(401, "untrusted_proxy")
            if (headers.get(self.settings.client_cert_verify_header) or "").upper() != "SUCCESS":
                return Refusal(401, "certificate_not_verified")  # includes revoked
            return checked_subject(parse_dn(headers[header]))
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
