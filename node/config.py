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

__all__ = ["NodeConfig", "PeerAddress", "load_config", "write_config"]

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
    block_interval_ms: Annotated[int, Field(ge=0, le=60_000)] = 200
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


class ConfigError(InputError):
    code = "bad_config"


def load_config(home: str | Path) -> NodeConfig:
    """Read and validate ``HOME/config.json``."""
    path = Path(home) / "config.json"
    try:
        return NodeConfig.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}; create a home with `skillchain genesis new`"
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def write_config(home: str | Path, config: NodeConfig) -> None:
    path = Path(home) / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.model_dump(mode="json"), indent=2) + "\n")
