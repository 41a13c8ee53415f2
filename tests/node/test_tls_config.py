"""The TLS and link-liveness config keys: each refused with ``bad_config`` naming it
when malformed, missing files named, and the certificate CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from node.config import ConfigError, load_config
from node.tls import link_tls, rpc_context

BASE = {"moniker": "n0", "p2p_port": 26650, "rpc_port": 26651}


def home_with(tmp_path: Path, **keys) -> Path:
    """A home whose config.json holds ``BASE`` plus ``keys``, with real TLS files."""
    home = tmp_path / "home"
    if not (home / "tls" / "node.crt").exists():
        result = CliRunner().invoke(main, ["tls", "new", "--home", str(home), "--json"])
        assert result.exit_code == 0, result.output
        (home / "tls" / "peers.pem").write_bytes((home / "tls" / "node.crt").read_bytes())
    (home / "config.json").write_text(json.dumps({**BASE, **keys}))
    return home


TLS = {"tls_cert_file": "tls/node.crt", "tls_key_file": "tls/node.key",
       "tls_ca_file": "tls/peers.pem"}


def refused(home: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        config = load_config(home)
        link_tls(home, config)
        rpc_context(home, config)
    assert caught.value.code == "bad_config"
    return caught.value.message


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"tls_cert_file": 5}, "tls_cert_file"),
        ({"tls_key_file": ["a"]}, "tls_key_file"),
        ({"tls_ca_file": {"x": 1}}, "tls_ca_file"),
        ({"rpc_tls": "sometimes"}, "rpc_tls"),
        ({"rpc_tls_cert_file": 1.5}, "rpc_tls_cert_file"),
        ({"rpc_tls_key_file": 7}, "rpc_tls_key_file"),
        ({"rpc_client_ca_file": True}, "rpc_client_ca_file"),
        ({"link_heartbeat_ms": 0}, "link_heartbeat_ms"),
        ({"link_heartbeat_ms": "1s"}, "link_heartbeat_ms"),
        ({"link_silence_ms": 10}, "link_silence_ms"),
        ({"link_silence_ms": 10_000_000}, "link_silence_ms"),
        ({"link_heartbeat_ms": 2_000, "link_silence_ms": 3_000}, "link_silence_ms"),
        ({"tls_cert_file": "tls/node.crt"}, "tls_key_file"),
        ({"tls_cert_file": "tls/node.crt", "tls_key_file": "tls/node.key"}, "tls_ca_file"),
        ({"tls_ca_file": "tls/peers.pem"}, "tls_cert_file"),
        ({"rpc_tls_cert_file": "tls/node.crt"}, "rpc_tls_key_file"),
        ({"rpc_client_ca_file": "tls/peers.pem"}, "rpc_client_ca_file"),
        ({**TLS, "rpc_tls": False, "rpc_client_ca_file": "tls/peers.pem"}, "rpc_client_ca_file"),
        ({**TLS, "tls_cert_file": "tls/missing.crt"}, "tls_cert_file"),
        ({**TLS, "tls_key_file": "nowhere/node.key"}, "tls_key_file"),
        ({**TLS, "tls_ca_file": "/nonexistent/ca.pem"}, "tls_ca_file"),
        ({**TLS, "rpc_client_ca_file": "tls"}, "rpc_client_ca_file"),  # a directory
        ({**TLS, "rpc_tls_cert_file": "x.crt", "rpc_tls_key_file": "tls/node.key"},
         "rpc_tls_cert_file"),
    ],
)
def test_each_new_key_is_refused_when_malformed(tmp_path, keys, named):
    message = refused(home_with(tmp_path, **keys))
    assert named in message, message


def test_files_that_are_not_what_they_should_be_are_named(tmp_path):
    home = home_with(tmp_path, **TLS)
    (home / "garbage.pem").write_text("not a certificate\n")
    (home / "config.json").write_text(json.dumps({**BASE, **TLS, "tls_ca_file": "garbage.pem"}))
    assert "tls_ca_file" in refused(home)
    (home / "config.json").write_text(json.dumps({**BASE, **TLS, "tls_cert_file": "garbage.pem"}))
    assert "tls_cert_file" in refused(home)
    other = tmp_path / "other"
    CliRunner().invoke(main, ["tls", "new", "--home", str(other)])
    (home / "config.json").write_text(  # a key that does not match the certificate
        json.dumps({**BASE, **TLS, "tls_key_file": str(other / "tls" / "node.key")})
    )
    assert "tls_key_file" in refused(home)
    (home / "config.json").write_text(json.dumps(
        {**BASE, **TLS, "rpc_client_ca_file": "garbage.pem"}))
    assert "rpc_client_ca_file" in refused(home)


def test_a_valid_tls_config_loads(tmp_path):
    home = home_with(tmp_path, **TLS, rpc_client_ca_file="tls/peers.pem",
                     link_heartbeat_ms=500, link_silence_ms=2_000)
    config = load_config(home)
    tls = link_tls(home, config)
    assert tls is not None and len(tls.own_fingerprint) == 32
    assert rpc_context(home, config) is not None
    plain = home_with(tmp_path, **TLS, rpc_tls=False)
    assert rpc_context(plain, load_config(plain)) is None
    assert link_tls(plain, load_config(plain)) is not None


def test_node_start_with_a_bad_tls_file_is_a_clear_error(tmp_path):
    home = home_with(tmp_path, **TLS)
    (home / "config.json").write_text(json.dumps({**BASE, **TLS, "tls_ca_file": "missing.pem"}))
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "error[bad_config]" in result.stderr and "tls_ca_file" in result.stderr
    assert "Traceback" not in result.stderr


def test_tls_new_writes_a_private_key_and_refuses_overwrite(tmp_path):
    home = tmp_path / "n"
    result = CliRunner().invoke(main, ["tls", "new", "--home", str(home), "--host", "10.1.2.3",
                                       "--host", "node.example", "--json"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert stat.S_IMODE(os.stat(made["key"]).st_mode) == 0o600
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(made["cert"]).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "node.example" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    again = CliRunner().invoke(main, ["tls", "new", "--home", str(home)])
    assert again.exit_code == 2 and "error[file_error]" in again.output
    forced = CliRunner().invoke(main, ["tls", "new", "--home", str(home), "--force", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.output)["sha256"] != made["sha256"]
