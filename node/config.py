"""A node's home directory: config, genesis, key, data, consensus log, log file.

    HOME/config.json     addresses of this node and of its peers (validators)
    HOME/genesis.json    the chain's genesis (a copy; its hash pins the data)
    HOME/validator.key   this node's consensus key (mode 0600)
    HOME/data/           LevelDB (storage.store)
    HOME/consensus.wal   what this replica signed (storage.wal)
    HOME/node.log        the node's log (no personal data is ever logged)

Config is validated like genesis: unknown fields are errors, so a typo in an
address is caught at start-up rather than by a silent partition.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from chain.errors import InputError
from node.logs import LogFormat, LogLevel

__all__ = [
    "TLS_FILE_KEYS",
    "ConfigError",
    "NodeConfig",
    "PeerAddress",
    "config_path",
    "load_config",
    "write_config",
]

Port = Annotated[int, Field(ge=1, le=65535)]


class PeerAddress(BaseModel):
    """Where another validator listens for validator links."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    public_key: str
    host: str
    port: Port


class NodeConfig(BaseModel):
    """The contents of ``config.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    moniker: str
    p2p_host: str = "127.0.0.1"
    p2p_port: Port
    rpc_host: str = "127.0.0.1"
    rpc_port: Port
    peers: tuple[PeerAddress, ...] = ()
    block_interval_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    """This node's pace as primary; None: the genesis ``consensus.block_interval_ms``."""
    max_block_txs: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    max_block_bytes: Annotated[int, Field(ge=64 * 1024, le=4 * 1024 * 1024)] = 4 * 1024 * 1024
    """The proposer's own cap; the protocol's is lower for larger validator sets
    (``consensus.messages.max_block_bytes``: a NEW-VIEW must carry 2f+2 blocks
    within 16 MiB), and the smaller of the two applies. Larger blocks spread each
    height's fixed costs (upper state-tree nodes, votes, one synced write) over
    more sessions: 4-validator records/s went from 4,900 at 1 MiB to 7,200 at
    4 MiB (bench_cluster)."""
    preview_proposals: bool = True
    """Announce a block's txs before executing it, so replicas execute them at the
    same time (``node.consensus_driver``); off only to compare or to debug."""
    rpc_rate_per_s: Annotated[int, Field(ge=1)] = 5_000
    rpc_sender_rate_per_s: Annotated[int, Field(ge=1)] = 2_000
    """Txs per second admitted over RPC per sender key (burst 10x): see node/rpc.py."""
    rpc_trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client."""
    rpc_max_connections: Annotated[int, Field(ge=4)] = 4_096
    """Also bounded by the fd limit (node/listeners.py: connection_allowance)."""
    rpc_max_connections_per_address: Annotated[int, Field(ge=1)] = 256

    @field_validator("rpc_trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError: reported as bad_config
        return value
    mempool_max_txs: Annotated[int, Field(ge=100)] = 100_000
    # -- operations (node/logs.py, node/health.py; docs/config.md) --
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    log_file: Annotated[str, Field(min_length=1, max_length=4096)] = "node.log"
    """Relative to the home, or absolute; ``-`` for stderr only (reopened on SIGHUP)."""
    metrics_host: Annotated[str, Field(min_length=1, max_length=255)] = "127.0.0.1"
    metrics_port: Port | None = None
    """When set, /metrics is served on metrics_host:metrics_port and not on the RPC."""

    @model_validator(mode="after")
    def _metrics_port_is_its_own(self) -> NodeConfig:
        if self.metrics_port is not None and self.metrics_port in (self.rpc_port, self.p2p_port):
            raise ValueError("metrics_port must differ from rpc_port and p2p_port")
        return self

    # -- TLS and link liveness (node/tls.py, node/links.py; node/README.md) --------
    tls_cert_file: str | None = None
    """PEM certificate of this node (links, and the RPC unless ``rpc_tls_cert_file``).
    Setting it turns TLS 1.3 on: links then refuse plaintext. Relative to the home."""
    tls_key_file: str | None = None
    """PEM private key of ``tls_cert_file`` (unencrypted; keep it mode 0600)."""
    tls_ca_file: str | None = None
    """PEM bundle a peer's link certificate must chain to: a CA's certificate, or
    every validator's self-signed certificate concatenated (``skillchain tls new``)."""
    rpc_tls: bool = True
    """With ``tls_cert_file`` set, serve the RPC over HTTPS; false leaves it plain
    HTTP (behind a terminating proxy on the same host only)."""
    rpc_tls_cert_file: str | None = None
    """A separate RPC certificate (e.g. CA-issued for platforms); default ``tls_cert_file``."""
    rpc_tls_key_file: str | None = None
    rpc_client_ca_file: str | None = None
    """When set, RPC clients must present a certificate chaining to this bundle."""
    link_heartbeat_ms: Annotated[int, Field(ge=50, le=60_000)] = 1_000
    """Each link sends a heartbeat (carrying our tip height) at least this often."""
    link_silence_ms: Annotated[int, Field(ge=200, le=600_000)] = 3_000
    """A link that heard nothing for this long is closed and redialled; also the
    links' ``TCP_USER_TIMEOUT``. At least twice ``link_heartbeat_ms``."""

    @model_validator(mode="after")
    def _tls_keys_fit(self) -> NodeConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.tls_cert_file is not None and self.tls_ca_file is None:
            raise ValueError(
                "tls_ca_file is required with tls_cert_file: the bundle peers' link "
                "certificates must chain to"
            )
        if self.tls_cert_file is None and self.tls_ca_file is not None:
            raise ValueError("tls_ca_file is set but tls_cert_file is not: TLS stays off")
        if (self.rpc_tls_cert_file is None) != (self.rpc_tls_key_file is None):
            raise ValueError(
                "rpc_tls_cert_file and rpc_tls_key_file go together: set both or neither"
            )
        rpc_https = self.rpc_tls_cert_file is not None or (
            self.tls_cert_file is not None and self.rpc_tls
        )
        if self.rpc_client_ca_file is not None and not rpc_https:
            raise ValueError(
                "rpc_client_ca_file needs the RPC over HTTPS (tls_cert_file with rpc_tls, "
                "or rpc_tls_cert_file)"
            )
        if self.link_silence_ms < 2 * self.link_heartbeat_ms:
            raise ValueError("link_silence_ms must be at least twice link_heartbeat_ms")
        return self

    def rpc_https(self) -> bool:
        """Whether the RPC is served over HTTPS."""
        return self.rpc_tls_cert_file is not None or (
            self.tls_cert_file is not None and self.rpc_tls
        )


class ConfigError(InputError):
    code = "bad_config"


def load_config(home: str | Path) -> NodeConfig:
    """Read and validate ``HOME/config.json``."""
    path = Path(home) / "config.json"
    try:
        config = NodeConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}; create a home with `skillchain genesis new`"
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    _check_files(home, config)
    return config


TLS_FILE_KEYS = (
    "tls_cert_file",
    "tls_key_file",
    "tls_ca_file",
    "rpc_tls_cert_file",
    "rpc_tls_key_file",
    "rpc_client_ca_file",
)


def config_path(home: str | Path, value: str) -> Path:
    """A path from config.json: relative paths are relative to the home."""
    return Path(home) / Path(value).expanduser()


def _check_files(home: str | Path, config: NodeConfig) -> None:
    """Every configured TLS file exists (their contents are checked by node/tls.py)."""
    for key in TLS_FILE_KEYS:
        value = getattr(config, key)
        if value is not None and not config_path(home, value).is_file():
            raise ConfigError(
                f"{Path(home) / 'config.json'}: {key}: {config_path(home, value)} is not a "
                "file; create one with `skillchain tls new` or fix the path"
            )


def write_config(home: str | Path, config: NodeConfig) -> None:
    path = Path(home) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.model_dump(mode="json", exclude_none=True), indent=2) + "\n")
