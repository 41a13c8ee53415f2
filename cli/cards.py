"""Bureau cards: what one bureau hands the genesis coordinator, and nothing secret.

A real network is not made on one machine. Each bureau creates its validator
key on its own server (``skillchain keys new``) and its officers' key where
its officers sign, then writes a *card*: a small public JSON file naming the
validator's public key, its display name (moniker), its city code, the host
and ports other bureaus dial, and the officers' public keys. The coordinator
collects the cards and builds genesis from them (``cli.ceremony``); no secret
ever leaves its owner.

The card is signed by the validator key it names (tag
``skillchain/bureau-card/v1``, chain id ``""``: a card is made before the
chain id is fixed and names no chain). The signature proves that whoever
made the card holds that key — a typo in a pasted key, or a card edited on
the way, is refused instead of becoming a validator that can never vote —
and binds the address to the key, so nobody can point a bureau's key at
another host by editing its card.

Refusals are ``CeremonyError``s with stable codes (``bad_card`` for a file
that is not a well-formed, correctly signed card).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from chain.codec import encode
from chain.crypto import CryptoSuite, Signer, get_suite, suite_names
from chain.errors import InputError

__all__ = [
    "CARD_FORMAT",
    "TAG_BUREAU_CARD",
    "BureauCard",
    "CeremonyError",
    "bind_host",
    "host_kind",
    "load_card",
    "make_card",
    "normalize_host",
    "write_card",
]

CARD_FORMAT = "skillchain-bureau-card/1"
TAG_BUREAU_CARD = b"skillchain/bureau-card/v1"
MAX_CARD_BYTES = 64 * 1024
"""A card is a few hundred bytes; anything larger is not a card."""

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
Port = Annotated[StrictInt, Field(ge=1, le=65535)]


class CeremonyError(InputError):
    """A card, a set of cards or a home that cannot make a working network.

    ``code`` names the rule (``bad_card``, ``duplicate_key``, ``duplicate_address``,
    ...) so scripts can branch on it; the message says what to do.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BureauCard(BaseModel):
    """The contents of a ``*.card.json`` file (public by design)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["skillchain-bureau-card/1"]
    suite: StrictStr
    public_key: StrictStr
    moniker: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    region_code: Annotated[StrictStr, Field(pattern=r"^\d{6}$")]
    host: Annotated[StrictStr, Field(min_length=1, max_length=253)]
    p2p_port: Port
    rpc_port: Port
    officer_public_keys: Annotated[tuple[StrictStr, ...], Field(min_length=1, max_length=16)]
    signature: StrictStr

    def signed_payload(self) -> bytes:
        """The canonical bytes the validator key signs: every field but the signature."""
        return encode(
            [
                self.format,
                self.suite,
                bytes.fromhex(self.public_key),
                self.moniker,
                self.region_code,
                self.host,
                self.p2p_port,
                self.rpc_port,
                [bytes.fromhex(k) for k in self.officer_public_keys],
            ]
        )

    @property
    def p2p_address(self) -> tuple[str, int]:
        return (self.host, self.p2p_port)

    @property
    def rpc_address(self) -> tuple[str, int]:
        return (self.host, self.rpc_port)


def normalize_host(host: str) -> str:
    """An IP literal in its compressed form, or a lower-case DNS name (RFC 1123).

    Raises ``ValueError`` naming the problem. Unspecified addresses (0.0.0.0,
    ::) and multicast are refused: others must be able to dial the host.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):  # [::1] as in a URL
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        name = text.lower().rstrip(".")
        labels = name.split(".")
        if not name or len(name) > 253 or not all(_HOST_LABEL.match(lb) for lb in labels):
            raise ValueError(
                f"host {host!r} is neither an IP address nor a valid DNS name "
                "(letters, digits and '-' between dots)"
            ) from None
        if labels[-1].isdigit():
            raise ValueError(f"host {host!r} looks like a malformed IPv4 address") from None
        return name
    if address.is_unspecified:
        raise ValueError(
            f"host {host!r} is the unspecified address: give the address other bureaus "
            "dial (bind to 0.0.0.0 with `genesis config --bind 0.0.0.0` instead)"
        )
    if address.is_multicast:
        raise ValueError(f"host {host!r} is a multicast address")
    return address.compressed


def bind_host(host: str) -> str:
    """An address to bind: as ``normalize_host``, but 0.0.0.0 and :: (every address) allowed."""
    try:
        if ipaddress.ip_address(host.strip()).is_unspecified:
            return ipaddress.ip_address(host.strip()).compressed
    except ValueError:
        pass
    try:
        return normalize_host(host)
    except ValueError as exc:
        raise CeremonyError("bad_option", f"bind address: {exc}") from None


def host_kind(host: str) -> Literal["loopback", "ip", "name"]:
    """``loopback`` for 127/8, ::1 and localhost; ``ip`` for other literals; else ``name``."""
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        return "loopback" if ipaddress.ip_address(host).is_loopback else "ip"
    except ValueError:
        return "name"


def make_card(
    signer: Signer,
    moniker: str,
    region_code: str,
    host: str,
    p2p_port: int,
    rpc_port: int,
    officer_public_keys: list[bytes],
) -> BureauCard:
    """A signed card for ``signer``'s validator; checked exactly as ``load_card`` checks."""
    fields = {
        "format": CARD_FORMAT,
        "suite": signer.suite.name,
        "public_key": signer.public_key.hex(),
        "moniker": _normal_text(moniker),
        "region_code": region_code,
        "host": host,
        "p2p_port": p2p_port,
        "rpc_port": rpc_port,
        "officer_public_keys": [k.hex() for k in officer_public_keys],
        "signature": "",
    }
    try:
        fields["host"] = normalize_host(host)
    except ValueError as exc:
        raise CeremonyError("bad_card", str(exc)) from None
    unsigned = _validate(fields, "the new card")
    signature = signer.sign(TAG_BUREAU_CARD, "", unsigned.signed_payload())
    card = unsigned.model_copy(update={"signature": signature.hex()})
    check_card(card, "the new card")
    return card


def write_card(path: str | Path, card: BureauCard) -> None:
    """Write a card (world-readable: it is public), refusing to overwrite one."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists; choose another --out or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(card.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    temp = path.with_suffix(path.suffix + ".tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def load_card(path: str | Path) -> BureauCard:
    """Read and check a card: its fields, its keys' sizes, its host and its signature."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise CeremonyError("bad_card", f"cannot read card {path}: {exc.strerror}") from None
    if len(data) > MAX_CARD_BYTES:
        raise CeremonyError("bad_card", f"{path}: larger than {MAX_CARD_BYTES} bytes: not a card")
    try:
        raw = json.loads(data, parse_float=_no_float, parse_constant=_no_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CeremonyError("bad_card", f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CeremonyError("bad_card", f"{path}: a card is a JSON object")
    if "secret" in raw:
        raise CeremonyError(
            "bad_card",
            f"{path} holds a secret key: this is a key file, not a card. Treat that key as "
            "exposed if the file was sent to anyone; make a card with `skillchain genesis bureau`",
        )
    card = _validate(raw, str(path))
    check_card(card, str(path))
    return card


def check_card(card: BureauCard, source: str) -> None:
    """Checks a model cannot express: suite, key sizes, normalized host, ports, signature."""
    if card.suite not in suite_names():
        raise CeremonyError(
            "bad_card", f"{source}: unknown suite {card.suite!r}; known: {', '.join(suite_names())}"
        )
    suite = get_suite(card.suite)
    key = _key_bytes(suite, card.public_key, f"{source}: public_key")
    for i, officer in enumerate(card.officer_public_keys):
        _key_bytes(suite, officer, f"{source}: officer_public_keys[{i}]")
    try:
        host = normalize_host(card.host)
    except ValueError as exc:
        raise CeremonyError("bad_card", f"{source}: {exc}") from None
    if host != card.host:
        raise CeremonyError("bad_card", f"{source}: host must be written {host!r}")
    if card.moniker != _normal_text(card.moniker) or not card.moniker.isprintable():
        raise CeremonyError("bad_card", f"{source}: moniker has control or surrounding spaces")
    if card.p2p_port == card.rpc_port:
        raise CeremonyError("bad_card", f"{source}: p2p_port and rpc_port are both {card.p2p_port}")
    if not _signature_verifies(suite, key, card):
        raise CeremonyError(
            "bad_card",
            f"{source}: the signature does not verify for its public key: the card was edited "
            "after it was made, or made with another key. Ask the bureau for a fresh card",
        )


def _signature_verifies(suite: CryptoSuite, key: bytes, card: BureauCard) -> bool:
    try:
        signature = bytes.fromhex(card.signature)
    except ValueError:
        return False
    return suite.verify(key, TAG_BUREAU_CARD, "", card.signed_payload(), signature)


def _validate(raw: dict, source: str) -> BureauCard:
    try:
        return BureauCard.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise CeremonyError("bad_card", f"{source}: {problems}") from None


def _key_bytes(suite: CryptoSuite, text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise CeremonyError("bad_card", f"{where} is not hex") from None
    if len(raw) != suite.public_key_bytes:
        raise CeremonyError(
            "bad_card",
            f"{where} has {len(raw)} bytes; {suite.name} public keys have {suite.public_key_bytes}",
        )
    return raw


def _normal_text(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _no_float(token: str) -> None:
    raise ValueError(f"non-integer number {token}")
