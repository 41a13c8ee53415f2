"""``skillchain tls``: a node's TLS certificate for its links and its RPC (node/tls.py)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["tls"]


@click.group()
def tls() -> None:
    """TLS certificates for validator links and the HTTPS RPC."""


@tls.command("new")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The node's home: writes HOME/tls/node.crt and HOME/tls/node.key (mode 0600).",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A DNS name or IP address clients reach the RPC at (repeat; default localhost "
    "and 127.0.0.1). Links do not check names: peers are identified by validator key.",
)
@click.option("--days", type=click.IntRange(1, 36_500), default=3650, show_default=True,
              help="Validity.")
@click.option("--name", default=None, help="Subject common name (default: the home's name).")
@click.option("--force", is_flag=True, help="Replace an existing certificate and key.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
def tls_new(
    home: Path, hosts: tuple[str, ...], days: int, name: str | None, force: bool, as_json: bool
) -> None:
    """Create a self-signed ECDSA P-256 certificate and key for a node.

    Every validator's certificate goes into one bundle that each node names as
    tls_ca_file (or use certificates issued by a CA and name the CA's
    certificate instead). The link handshake binds the certificate to the
    validator key, so a relay holding another valid certificate is refused.

    \b
    Example:
      skillchain tls new --home net/node0 --host node0.bureau.example --host 10.0.0.5
      cat net/node*/tls/node.crt > peers.pem      # copy to every node's home
    \b
    then in HOME/config.json:
      "tls_cert_file": "tls/node.crt", "tls_key_file": "tls/node.key",
      "tls_ca_file": "peers.pem"
    """
    from cli.main import emit, friendly_errors  # here: cli.main imports this module

    @friendly_errors
    def run(as_json: bool) -> None:
        from node.tls import new_certificate

        made = new_certificate(
            home / "tls", name or home.resolve().name, hosts or ("localhost", "127.0.0.1"),
            days, overwrite=force,
        )
        data = {"cert": str(made.cert), "key": str(made.key), "sha256": made.sha256}
        emit(
            data,
            as_json,
            lambda d: (
                f"wrote {d['cert']} and {d['key']}\nsha256 {d['sha256']}\n"
                'set "tls_cert_file": "tls/node.crt", "tls_key_file": "tls/node.key" and '
                '"tls_ca_file" (the bundle of every validator\'s certificate, or your CA) '
                "in config.json"
            ),
        )

    run(as_json=as_json)
