"""Security profile 3: client certificates, (a) with TLS terminated in the gateway and (b) read
from a trusted TLS-terminating proxy's headers. Real certificates (an operator CA, a CRL), real
TLS, real `ocpp` charge points, real Kafka."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from libs.simulator.chargers import V201Station
from services.gateway.app import GatewayApp
from tests.integration.gateway.conftest import (
    KEYS,
    V16_STATION,
    basic,
    gateway_settings,
    publish_catalog,
    read_topics,
)
from tests.integration.gateway.pki import Pki, make_pki

pytestmark = pytest.mark.kafka

# The operator's O, with an umlaut and a comma: OpenSSL escapes both in a proxy's subject header.
OPERATOR = "Voltstream Süd, Demo CPO"
CS1, CS2 = "CERT-CS-001", "CERT-CS-002"  # profile 3 stations: no key, a certificate only
PROFILE_3 = [{"station_id": CS1, "security_profile": 3}, {"station_id": CS2, "security_profile": 3}]
DN_HEADER, VERIFY_HEADER = "X-SSL-Client-S-DN", "X-SSL-Client-Verify"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), OPERATOR, {
        "cs1": (CS1, OPERATOR),
        "cs2": (CS2, OPERATOR),
        "cs1-other-org": (CS1, "Some Other CPO"),
        "cs1-revoked": (CS1, OPERATOR),
        "cs1-foreign-ca": (CS1, OPERATOR),
    }, revoked=("cs1-revoked",), foreign=("cs1-foreign-ca",))


@pytest.fixture
async def cert_catalog(kafka_settings):
    await publish_catalog(kafka_settings, PROFILE_3)
    return kafka_settings


async def started(settings, catalog, tmp_path) -> GatewayApp:
    app = GatewayApp(settings, catalog, health=False)
    await app.start()
    return app


async def stopped(app: GatewayApp) -> None:
    app.settings.drain_seconds = 0
    await app.stop()


async def refused(url: str, **kwargs) -> tuple[int, str]:
    """The HTTP status and reason of a refused WebSocket upgrade."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, subprotocols=["ocpp2.0.1"], **kwargs):
            pass
    response = info.value.response
    return response.status_code, response.body.decode().strip()


async def tls_refused(url: str, ctx: ssl.SSLContext) -> None:
    """A certificate the gateway's TLS layer refuses: the connection ends without any HTTP answer.
    (With TLS 1.3 the client's handshake completes first; the server's alert then ends the
    stream, which websockets reports as InvalidMessage / EOF, or an SSLError.)"""
    with pytest.raises((InvalidMessage, ssl.SSLError, ConnectionError)) as info:
        async with connect(url, subprotocols=["ocpp2.0.1"], ssl=ctx, open_timeout=10):
            pass
    assert not isinstance(info.value, InvalidStatus), "refused over HTTP, expected the TLS handshake to fail"


# --- (a) TLS terminated in the gateway ---------------------------------------------------------

@pytest.fixture
async def tls_gateway(cert_catalog, tmp_path, pki):
    settings = gateway_settings(tmp_path, tls_certfile=str(pki.server_cert), tls_keyfile=str(pki.server_key),
                                tls_client_ca=str(pki.ca_file), tls_crl_file=str(pki.crl_file),
                                certificate_organization=OPERATOR)
    app = await started(settings, cert_catalog, tmp_path)
    try:
        yield app
    finally:
        await stopped(app)


def wss(app: GatewayApp, station: str) -> str:
    return f"wss://127.0.0.1:{app.server.port}/ocpp/{station}"


async def test_tls_client_certificate_with_station_cn_and_operator_o_is_accepted(tls_gateway, cert_catalog, pki):
    station = V201Station(CS1, f"wss://127.0.0.1:{tls_gateway.server.port}/ocpp",
                          ssl_context=pki.client_context("cs1"))
    await station.connect()
    try:
        assert (await station.boot()).status == "Accepted"
        assert tls_gateway.registry.get(CS1) is not None
    finally:
        await station.close()
    events = await read_topics(cert_catalog, ["station-events"], until=lambda ev: any(
        e.type == "station.disconnected" and e.station_id == CS1 for e in ev))
    mine = [e.type for e in events if e.station_id == CS1]
    assert mine == ["station.connected", "station.booted", "station.disconnected"]


async def test_tls_client_certificate_refusals(tls_gateway, pki):
    # the certificate of another station (CN = CERT-CS-002) on CERT-CS-001's path
    assert await refused(wss(tls_gateway, CS1), ssl=pki.client_context("cs2")) == (401, "wrong_station")
    # a station certificate used under a profile 2 station's path
    assert await refused(wss(tls_gateway, V16_STATION), ssl=pki.client_context("cs1")) == (401, "wrong_station")
    # right CN, but issued to another operator (O)
    assert await refused(wss(tls_gateway, CS1), ssl=pki.client_context("cs1-other-org")) == (
        401, "wrong_organization")
    # no client certificate at all for a profile 3 station (and no Basic auth fallback for it)
    assert await refused(wss(tls_gateway, CS1), ssl=pki.client_context(None)) == (401, "certificate_required")
    assert await refused(wss(tls_gateway, CS1), ssl=pki.client_context(None),
                         additional_headers=basic(CS1, "any-key-0000000000")) == (401, "certificate_required")
    # revoked (in the CRL) and issued by an untrusted CA: the TLS handshake itself fails
    await tls_refused(wss(tls_gateway, CS1), pki.client_context("cs1-revoked"))
    await tls_refused(wss(tls_gateway, CS1), pki.client_context("cs1-foreign-ca"))
    assert tls_gateway.registry.get(CS1) is None
    # control: the station's own certificate gets in on the same gateway
    async with connect(wss(tls_gateway, CS1), subprotocols=["ocpp2.0.1"], ssl=pki.client_context("cs1")) as ws:
        assert ws.subprotocol == "ocpp2.0.1"


async def test_tls_profile_2_station_uses_basic_auth_without_a_client_certificate(tls_gateway, pki):
    async with connect(wss(tls_gateway, V16_STATION), subprotocols=["ocpp1.6"], ssl=pki.client_context(None),
                       additional_headers=basic(V16_STATION, KEYS[V16_STATION])) as ws:
        assert ws.subprotocol == "ocpp1.6"
    assert await refused(wss(tls_gateway, V16_STATION), ssl=pki.client_context(None),
                         additional_headers=basic(V16_STATION, "wrong-key-000000000000")) == (401, "bad_credentials")


async def test_a_crl_published_while_running_takes_effect_without_restart(cert_catalog, tmp_path):
    pki = make_pki(tmp_path / "pki", OPERATOR, {"cs1": (CS1, OPERATOR)})
    settings = gateway_settings(tmp_path, tls_certfile=str(pki.server_cert), tls_keyfile=str(pki.server_key),
                                tls_client_ca=str(pki.ca_file), tls_crl_file=str(pki.crl_file),
                                tls_crl_reload_seconds=0.1, certificate_organization=OPERATOR)
    app = await started(settings, cert_catalog, tmp_path)
    try:
        async with connect(wss(app, CS1), subprotocols=["ocpp2.0.1"], ssl=pki.client_context("cs1")):
            pass
        pki.revoke("cs1")
        await asyncio.sleep(1.0)  # ten reload periods
        await tls_refused(wss(app, CS1), pki.client_context("cs1"))
    finally:
        await stopped(app)


# --- (b) a TLS-terminating proxy in front, trusted by its address --------------------------------

def proxy_headers(pki: Pki, name: str | None, verify: str | None = "SUCCESS") -> dict[str, str]:
    """What e.g. nginx forwards: $ssl_client_s_dn (RFC 4514) and $ssl_client_verify."""
    headers = {}
    if name is not None:
        headers[DN_HEADER] = pki.subjects[name]
    if verify is not None:
        headers[VERIFY_HEADER] = verify
    return headers


def ws(app: GatewayApp, station: str) -> str:
    return f"ws://127.0.0.1:{app.server.port}/ocpp/{station}"


@pytest.fixture
async def proxied_gateway(cert_catalog, tmp_path):
    # a network, as for an ingress controller whose pods change address
    settings = gateway_settings(tmp_path, client_cert_subject_header=DN_HEADER, trusted_proxies=["127.0.0.0/8"],
                                certificate_organization=OPERATOR)
    app = await started(settings, cert_catalog, tmp_path)
    try:
        yield app
    finally:
        await stopped(app)


async def test_proxy_header_from_a_trusted_proxy_is_accepted(proxied_gateway, cert_catalog, pki):
    station = V201Station(CS1, f"ws://127.0.0.1:{proxied_gateway.server.port}/ocpp",
                          headers=proxy_headers(pki, "cs1"))
    await station.connect()
    try:
        assert (await station.boot()).status == "Accepted"
    finally:
        await station.close()
    # the legacy slash form ($ssl_client_s_dn_legacy: /O=…/CN=…, non-ASCII bytes as \xHH)
    org = "".join(c if c.isascii() else "".join(f"\\x{b:02X}" for b in c.encode()) for c in OPERATOR)
    legacy = {DN_HEADER: f"/O={org}/CN={CS2}", VERIFY_HEADER: "SUCCESS"}
    async with connect(ws(proxied_gateway, CS2), subprotocols=["ocpp2.0.1"], additional_headers=legacy) as conn:
        assert conn.subprotocol == "ocpp2.0.1"
    events = await read_topics(cert_catalog, ["station-events"], until=lambda ev: any(
        e.type == "station.booted" and e.station_id == CS1 for e in ev))
    assert [e.type for e in events if e.station_id == CS1][:2] == ["station.connected", "station.booted"]


async def test_proxy_header_refusals(proxied_gateway, pki):
    url = ws(proxied_gateway, CS1)
    assert await refused(url, additional_headers=proxy_headers(pki, "cs2")) == (401, "wrong_station")
    assert await refused(url, additional_headers=proxy_headers(pki, "cs1-other-org")) == (401, "wrong_organization")
    # the proxy checked its CRL and says so: revoked
    assert await refused(url, additional_headers=proxy_headers(pki, "cs1-revoked", "FAILED:certificate revoked")) \
        == (401, "certificate_not_verified")
    # a subject without the proxy's verification verdict proves nothing
    assert await refused(url, additional_headers=proxy_headers(pki, "cs1", None)) == (401, "certificate_not_verified")
    # a subject naming two CNs could be read either way
    two_cns = {DN_HEADER: f"CN={CS1},CN={CS2},O=x", VERIFY_HEADER: "SUCCESS"}
    assert await refused(url, additional_headers=two_cns) == (401, "ambiguous_subject")
    # a proxy that appends instead of overwriting: the charger's own subject arrives too
    forged = [(DN_HEADER, pki.subjects["cs1"]), *proxy_headers(pki, "cs2").items()]
    assert await refused(url, additional_headers=forged) == (400, "repeated_header")
    # no certificate (the proxy sends no subject, verify NONE)
    assert await refused(url, additional_headers=proxy_headers(pki, None, "NONE")) == (401, "certificate_required")
    assert await refused(url) == (401, "certificate_required")
    # a profile 2 station behind the same proxy still authenticates with Basic auth
    async with connect(ws(proxied_gateway, V16_STATION), subprotocols=["ocpp1.6"],
                       additional_headers=basic(V16_STATION, KEYS[V16_STATION]) | proxy_headers(pki, None, "NONE")):
        pass


async def test_proxy_header_from_an_untrusted_address_is_refused(cert_catalog, tmp_path, pki):
    settings = gateway_settings(tmp_path, client_cert_subject_header=DN_HEADER, trusted_proxies=["10.0.0.0/8", "::1"],
                                certificate_organization=OPERATOR)
    app = await started(settings, cert_catalog, tmp_path)
    try:
        assert await refused(ws(app, CS1), additional_headers=proxy_headers(pki, "cs1")) == (401, "untrusted_proxy")
    finally:
        await stopped(app)


async def test_proxy_header_ignored_when_proxy_mode_is_not_configured(gateway_without_proxy, pki):
    # a charger (or anyone) forging the proxy's headers on a gateway that trusts no proxy
    url = ws(gateway_without_proxy, CS1)
    assert await refused(url, additional_headers=proxy_headers(pki, "cs1")) == (401, "certificate_required")
    assert await refused(ws(gateway_without_proxy, V16_STATION), additional_headers=proxy_headers(pki, "cs1") | {
        DN_HEADER: f"CN={V16_STATION},O={OPERATOR}"}) == (401, "credentials_required")


@pytest.fixture
async def gateway_without_proxy(cert_catalog, tmp_path):
    app = await started(gateway_settings(tmp_path, certificate_organization=OPERATOR), cert_catalog, tmp_path)
    try:
        yield app
    finally:
        await stopped(app)
