"""A throwaway PKI for security profile 3: an operator CA, a server certificate for 127.0.0.1,
station client certificates (CN = station id, O = operator), one of them revoked in a CRL, and
one issued by a foreign CA. EC P-256 keys: fast to generate, accepted by OpenSSL everywhere."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class _Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _ca(cn: str, org: str, now: datetime) -> _Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(cn, org)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return _Issuer(name, key, cert)


def _leaf(issuer: _Issuer, subject: x509.Name, now: datetime, *, server: bool):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, builder.sign(issuer.key, hashes.SHA256())


@dataclass
class Pki:
    directory: Path
    operator: str
    ca: _Issuer
    ca_file: Path
    server_cert: Path
    server_key: Path
    crl_file: Path
    subjects: dict[str, str] = field(default_factory=dict)  # client name -> subject DN as nginx sends it
    serials: dict[str, int] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def client(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.crt", self.directory / f"{name}.key"

    def client_context(self, name: str | None) -> ssl.SSLContext:
        """What a charger uses: trusts the operator CA, presents client certificate `name` (or none)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if name is not None:
            cert, key = self.client(name)
            ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def revoke(self, name: str) -> None:
        """Publish a new CRL (issued now, so newer than the last one) that lists `name` too."""
        self.revoked.add(name)
        self.write_crl(datetime.now(UTC) - timedelta(seconds=1))

    def write_crl(self, issued_at: datetime) -> None:
        crl = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.name)
               .last_update(issued_at).next_update(issued_at + timedelta(days=1)))
        for name in sorted(self.revoked):
            crl = crl.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(self.serials[name])
                                              .revocation_date(issued_at).build())
        tmp = self.crl_file.with_suffix(".tmp")
        tmp.write_bytes(crl.sign(self.ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        tmp.replace(self.crl_file)  # atomically, as a CA's CRL publisher would


def make_pki(directory: Path, operator: str, clients: dict[str, tuple[str, str]], *,
             revoked: tuple[str, ...] = (), foreign: tuple[str, ...] = ()) -> Pki:
    """`clients`: name -> (CN, O). Names in `revoked` are listed in the CRL; names in `foreign`
    are issued by another CA the gateway does not trust."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca = _ca("Voltstream Test Root CA", operator, now)
    other_ca = _ca("Somebody Else's CA", "Somebody Else", now)
    pki = Pki(directory, operator, ca, directory / "ca.crt", directory / "server.crt", directory / "server.key",
              directory / "ca.crl.pem", revoked=set(revoked))
    pki.ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    key, cert = _leaf(ca, _name("localhost", operator), now, server=True)
    pki.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, key)
    for name, (cn, org) in clients.items():
        key, cert = _leaf(other_ca if name in foreign else ca, _name(cn, org), now, server=False)
        cert_path, key_path = pki.client(name)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        pki.subjects[name] = nginx_dn(cert.subject)
        pki.serials[name] = cert.serial_number
    pki.write_crl(now - timedelta(hours=1))  # an hour old: any CRL published later is newer
    return pki


def nginx_dn(name: x509.Name) -> str:
    r"""The subject as nginx's $ssl_client_s_dn forwards it: RFC 4514 as OpenSSL prints it
    (XN_FLAG_RFC2253), which also escapes each non-ASCII UTF-8 byte as \XX."""
    return "".join(c if c.isascii() else "".join(f"\\{b:02X}" for b in c.encode()) for c in name.rfc4514_string())
