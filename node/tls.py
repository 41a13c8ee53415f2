"""TLS 1.3 for validator links and the RPC (Python's ``ssl``), and node certificates.

Why the pieces are shaped this way
----------------------------------
* **Links are mutually authenticated TLS 1.3, and the certificate is bound to
  the validator key by the link handshake** (``node/links.py``): each side's
  handshake signature covers the SHA-256 of the certificate the dialer
  presented and of the one the listener presented, as each side saw them.
  A man in the middle must terminate TLS with a certificate of its own, so
  the two honest ends see different certificates and neither signature
  verifies: the link is refused (``cert_not_bound``), whatever CA issued the
  intruder's certificate. TLS gives confidentiality; the validator key, not
  the certificate, is the identity.
* **Python's ``ssl`` cannot accept a peer certificate without verifying its
  chain** (there is no verify callback), so links need ``tls_ca_file``: a
  CA's certificate (CA-issued node certificates), or every validator's
  self-signed certificate concatenated into one bundle (each is its own trust
  anchor). A stranger without an accepted certificate therefore fails at TLS,
  before any signature work. Host names are not checked on links: peers are
  identified by key, and their addresses may be NAT'd or change.
* **The RPC is HTTPS** with the node's certificate (or a separate one, e.g.
  issued by a CA platforms trust), optionally requiring client certificates
  (``rpc_client_ca_file``).
* Certificates made here are ECDSA P-256 (every TLS client speaks it; a
  handshake costs two signatures of ~0.1 ms), self-signed, valid ten years
  by default, with the hosts given as subject alternative names so HTTPS
  clients can check the RPC's name.

Errors in configured files are ``bad_config`` naming the config key.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.config import ConfigError, NodeConfig, config_path

__all__ = [
    "CertificateFiles",
    "LinkTls",
    "client_context",
    "fingerprint",
    "link_tls",
    "new_certificate",
    "rpc_context",
    "tls_fault_kind",
]

TLS_DIR = "tls"
CERT_NAME, KEY_NAME = "node.crt", "node.key"


def fingerprint(der: bytes | None) -> bytes:
    """SHA-256 of a DER certificate (what the link handshake signs); b"" for none."""
    return hashlib.sha256(der).digest() if der else b""


@dataclass(frozen=True)
class LinkTls:
    """What ``node.links.PeerNetwork`` needs for TLS links."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    own_fingerprint: bytes
    """SHA-256 of the certificate we present (the leaf of ``tls_cert_file``)."""


def _context(purpose: int, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3) -> ssl.SSLContext:
    context = ssl.SSLContext(purpose)
    context.minimum_version = minimum
    return context


def _load_chain(context: ssl.SSLContext, home: Path, cert_key: str, key_key: str,
                config: NodeConfig) -> None:
    cert, key = getattr(config, cert_key), getattr(config, key_key)
    try:
        context.load_cert_chain(config_path(home, cert), config_path(home, key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"{cert_key}/{key_key}: cannot load {cert} with {key}: {exc}; a PEM certificate "
            "and its unencrypted PEM key are needed (`skillchain tls new`)"
        ) from None


def _load_ca(context: ssl.SSLContext, home: Path, ca_key: str, config: NodeConfig) -> None:
    path = getattr(config, ca_key)
    try:
        context.load_verify_locations(cafile=config_path(home, path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"{ca_key}: cannot load {path} as a PEM certificate bundle: {exc}"
        ) from None
    context.verify_mode = ssl.CERT_REQUIRED


def _leaf_der(home: Path, cert: str, cert_key: str) -> bytes:
    """The first certificate of a PEM file, as DER."""
    try:
        text = config_path(home, cert).read_text()
        start = text.index("-----BEGIN CERTIFICATE-----")
        end = text.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
        return ssl.PEM_cert_to_DER_cert(text[start:end])
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cert_key}: {cert} holds no PEM certificate ({exc})") from None


def link_tls(home: str | Path, config: NodeConfig) -> LinkTls | None:
    """TLS contexts for the links, or None when ``tls_cert_file`` is not set."""
    if config.tls_cert_file is None:
        return None
    home = Path(home)
    server = _context(ssl.PROTOCOL_TLS_SERVER)
    client = _context(ssl.PROTOCOL_TLS_CLIENT)
    for context in (server, client):
        _load_chain(context, home, "tls_cert_file", "tls_key_file", config)
        _load_ca(context, home, "tls_ca_file", config)
        context.check_hostname = False  # peers are identified by validator key (docstring)
    return LinkTls(server, client, fingerprint(_leaf_der(home, config.tls_cert_file,
                                                         "tls_cert_file")))


def rpc_context(home: str | Path, config: NodeConfig) -> ssl.SSLContext | None:
    """The RPC's server context, or None for plain HTTP (``NodeConfig.rpc_https``)."""
    if not config.rpc_https():
        return None
    home = Path(home)
    # TLS 1.2 is allowed for platforms' HTTP stacks that lack 1.3; links are 1.3 only.
    context = _context(ssl.PROTOCOL_TLS_SERVER, ssl.TLSVersion.TLSv1_2)
    if config.rpc_tls_cert_file is not None:
        _load_chain(context, home, "rpc_tls_cert_file", "rpc_tls_key_file", config)
    else:
        _load_chain(context, home, "tls_cert_file", "tls_key_file", config)
    if config.rpc_client_ca_file is not None:
        _load_ca(context, home, "rpc_client_ca_file", config)
    return context


def client_context(
    ca_file: str | Path | None = None,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
) -> ssl.SSLContext:
    """An HTTPS client context for tools and tests: trusts ``ca_file`` (the system's
    CAs when None), presents ``cert_file`` when given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


_PLAINTEXT = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNEXPECTED_RECORD", "RECORD_LAYER_FAILURE",
              "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
_BAD_CERT = {"CERTIFICATE_VERIFY_FAILED", "PEER_DID_NOT_RETURN_A_CERTIFICATE",
             "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE",
             "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
             "TLSV1_ALERT_DECRYPT_ERROR", "CERTIFICATE_EXPIRED"}
_OLD_TLS = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE"}


def tls_fault_kind(exc: BaseException) -> str:
    """The fault kind a failed TLS handshake is counted as (a fixed vocabulary)."""
    reason = getattr(exc, "reason", None) or ""
    if reason in _PLAINTEXT:
        return "tls_plaintext"
    if reason in _BAD_CERT or isinstance(exc, ssl.SSLCertVerificationError):
        return "tls_bad_cert"
    if reason in _OLD_TLS:
        return "tls_old_version"
    return "tls_handshake"


# -- making certificates ---------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFiles:
    """What ``new_certificate`` wrote."""

    cert: Path
    key: Path
    sha256: str


def new_certificate(
    directory: str | Path,
    name: str,
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    days: int = 3650,
    overwrite: bool = False,
) -> CertificateFiles:
    """A self-signed ECDSA P-256 certificate and key in ``directory`` (node.crt, node.key).

    ``hosts`` become subject alternative names (IP addresses or DNS names), so
    HTTPS clients that check names accept the RPC at those hosts.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if not overwrite and (cert_path.exists() or key_path.exists()):
        raise FileExistsError(
            f"{cert_path} or {key_path} exists; keep it, or replace it with "
            "`skillchain tls new --force`"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[Any] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little behind
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return CertificateFiles(cert_path, key_path, digest)
