"""Client certificate subjects as TLS proxies forward them, and which proxies are trusted."""

from __future__ import annotations

import pytest

from services.gateway.auth import Refusal, checked_subject, is_trusted, parse_dn, subject_of, trusted_networks


@pytest.mark.parametrize("dn,expected", [
    # nginx $ssl_client_s_dn / Apache SSL_CLIENT_S_DN: RFC 4514 as OpenSSL prints it
    ("CN=CS1,O=ACME", [("CN", "CS1"), ("O", "ACME")]),
    (r"CN=CS\+1,O=Stadtwerke M\C3\BCnchen\, Nord", [("CN", "CS+1"), ("O", "Stadtwerke München, Nord")]),
    (r"CN=a\=b\\c,O=\"Q\"", [("CN", "a=b\\c"), ("O", '"Q"')]),
    ("CN=CS1+OU=Lab, O=ACME", [("CN", "CS1"), ("OU", "Lab"), ("O", "ACME")]),  # multi-valued RDN, RFC 1779 space
    ("cn=CS1", [("CN", "CS1")]),
    # nginx $ssl_client_s_dn_legacy
    (r"/C=DE/O=Stadtwerke M\xC3\xBCnchen, Nord/CN=CS1", [("C", "DE"), ("O", "Stadtwerke München, Nord"),
                                                          ("CN", "CS1")]),
    ("", []),
])
def test_parse_dn_both_proxy_forms(dn, expected):
    assert parse_dn(dn) == expected


def test_checked_subject_refuses_a_repeated_cn_or_o():
    assert checked_subject([("C", "DE"), ("O", "ACME"), ("CN", "CS1")]) == {"O": "ACME", "CN": "CS1"}
    assert checked_subject(parse_dn("CN=CS1,CN=CS2,O=ACME")) == Refusal(401, "ambiguous_subject")
    assert checked_subject(parse_dn("CN=CS1,O=A,O=B")) == Refusal(401, "ambiguous_subject")


def test_subject_of_peercert():
    peercert = {"subject": ((("countryName", "DE"),), (("organizationName", "ACME"),), (("commonName", "CS1"),))}
    assert checked_subject(subject_of(peercert)) == {"O": "ACME", "CN": "CS1"}


def test_trusted_proxies_by_address_or_network():
    networks = trusted_networks(["127.0.0.1", "10.42.0.0/16", "fd00::/8"])
    assert is_trusted("127.0.0.1", networks)
    assert is_trusted("10.42.7.9", networks) and not is_trusted("10.43.0.1", networks)
    assert is_trusted("fd00::1", networks) and not is_trusted("::1", networks)
    assert is_trusted("::ffff:10.42.0.1", networks)  # IPv4 proxy seen through a dual-stack socket
    assert not is_trusted(None, networks) and not is_trusted("not-an-ip", networks)
    with pytest.raises(ValueError):
        trusted_networks(["10.0.0.0/33"])
