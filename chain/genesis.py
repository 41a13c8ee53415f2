"""Loading and validating ``genesis.json``, the only root of trust.

An auditor trusts this file and nothing else, so it is validated strictly:
unknown fields are errors (a typo must not silently drop a rule), numbers are
integers (money in fen, durations in seconds, times in Unix seconds UTC), keys
are hex of the right length for the named suite, and every cross-reference
(an actor's city, a fund's city, an override's certificate type) must resolve.

Every problem becomes one ``GenesisError`` whose message lists each failing
field by its path, so a bureau fixing a file sees all mistakes at once.

The genesis hash is the tagged hash of the file's canonical JSON (keys sorted,
no insignificant whitespace, UTF-8), so reformatting the file does not make a
new chain but changing any value does.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from chain.crypto import TAG_GENESIS, CryptoSuite, get_suite, suite_names
from chain.errors import GenesisError
from chain.validators import Validator, ValidatorSet

__all__ = [
    "CERTIFICATE_TYPES",
    "FUND_SOURCES",
    "ROLES",
    "SPECIAL_GROUPS",
    "Actor",
    "ChainParams",
    "ConsensusParams",
    "Fund",
    "Genesis",
    "GenesisValidator",
    "Occupation",
    "Policy",
    "genesis_hash",
    "host_problem",
    "load_genesis",
    "parse_genesis",
]

ROLES = ("admin", "bureau", "provider", "organizer")
CERTIFICATE_TYPES = (
    "occupational_qualification",
    "skill_level",
    "special_ability",
    "special_operations",
    "training_completion",
)
SPECIAL_GROUPS = (
    "poor_rural_labourer",
    "poor_urban_labourer",
    "unemployed_with_difficulty",
    "rural_graduate_not_continuing",
    "low_income_urban_graduate_not_continuing",
)
FUND_SOURCES = ("employment_subsidy", "unemployment_insurance")

_OCCUPATION_CODE = re.compile(r"^[1-8]-\d{2}-\d{2}-\d{2}$")
_REGION_CODE = re.compile(r"^\d{6}$")
_MAX_AMOUNT_FEN = 10**12

NonNegative = Annotated[int, Field(ge=0, strict=True)]
Positive = Annotated[int, Field(gt=0, strict=True)]
Fen = Annotated[int, Field(ge=0, le=_MAX_AMOUNT_FEN, strict=True)]
RegionCode = Annotated[str, Field(pattern=_REGION_CODE.pattern)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def host_problem(value: str) -> str | None:
    """What is wrong with ``value`` as a host other validators dial, or None.

    Accepted: an IP literal in its compressed form, or a lower-case DNS name
    (RFC 1123 labels, at most 253 characters), so each address has one spelling;
    not the unspecified or a multicast address. Pure: no lookup is made.
    """
    if not 0 < len(value) <= 253:
        return "must have 1..253 characters"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        labels = value.split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
            return ("neither an IP address nor a lower-case DNS name "
                    "(letters, digits and '-' between dots)")
        return None
    if str(address) != value:
        return f"write the address as {address}"
    if address.is_unspecified or address.is_multicast:
        return "an unspecified or multicast address cannot be dialled"
    return None


class GenesisValidator(_Strict):
    """A bureau's validator node as genesis lists it.

    ``host`` and ``p2p_port`` (both or neither) are its link address, which
    genesis writes into state so that nodes dial it without a ``peers`` entry;
    absent, the address is unknown to the chain and each node's ``peers`` list
    must name it.
    """

    name: Name
    region_code: RegionCode
    public_key: StrictStr
    host: StrictStr | None = None
    p2p_port: Annotated[int, Field(ge=1, le=65535, strict=True)] | None = None

    @model_validator(mode="after")
    def _address(self) -> GenesisValidator:
        if (self.host is None) != (self.p2p_port is None):
            raise ValueError("give both host and p2p_port, or neither")
        problem = None if self.host is None else host_problem(self.host)
        if problem is not None:
            raise ValueError(f"host {self.host!r}: {problem}")
        return self


class Actor(_Strict):
    """An account with one role: the admin, a bureau, a provider or an organizer."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
    role: Literal["admin", "bureau", "provider", "organizer"]
    name: Name
    region_code: RegionCode
    public_keys: Annotated[tuple[str, ...], Field(min_length=1, max_length=16)]


class Occupation(_Strict):
    """One catalogue entry: an occupation at one skill level."""

    code: StrictStr
    edition: Literal[2015, 2022]
    name: Name
    level: Annotated[int, Field(ge=1, le=5, strict=True)]
    theory_seconds: NonNegative
    practical_seconds: NonNegative
    simulation_allowed: StrictBool
    certificate_types: Annotated[tuple[str, ...], Field(min_length=1)]
    standards_fen: dict[str, Fen]
    city_overrides_fen: dict[str, dict[str, Fen]] = Field(default_factory=dict)
    illustrative: StrictBool = False

    @field_validator("code")
    @classmethod
    def _code_shape(cls, code: str) -> str:
        if not _OCCUPATION_CODE.match(code):
            raise ValueError("occupation code must look like L-MM-SS-OO, e.g. 4-03-02-01")
        return code

    @model_validator(mode="after")
    def _certificate_types_known(self) -> Occupation:
        for kind in (*self.certificate_types, *self.standards_fen):
            if kind not in CERTIFICATE_TYPES:
                raise ValueError(f"unknown certificate type {kind!r}")
        missing = set(self.certificate_types) - set(self.standards_fen)
        if missing:
            raise ValueError(f"no subsidy standard for certificate types {sorted(missing)}")
        for city, amounts in self.city_overrides_fen.items():
            if not _REGION_CODE.match(city):
                raise ValueError(f"override city {city!r} is not a 6-digit code")
            for kind in amounts:
                if kind not in self.certificate_types:
                    raise ValueError(f"override for {city} names certificate type {kind!r}")
        return self


class Policy(_Strict):
    """Policy parameters, effective from a date; the admin can publish newer ones."""

    effective_from: NonNegative
    daily_cap_seconds: Positive
    face_check_interval_seconds: Positive
    teaching_hour_seconds: Positive
    simulation_cap_percent: Annotated[int, Field(ge=0, le=100, strict=True)]
    yearly_claim_limit: Positive
    claim_window_seconds: Positive
    living_allowance_fen_per_day: Fen
    living_allowance_cap_days: NonNegative
    shortfall_fen_per_day: Fen
    shortfall_cap_percent: Annotated[int, Field(ge=0, le=100, strict=True)]
    publicity_seconds: NonNegative
    eligible_groups: tuple[str, ...]
    illustrative: StrictBool = False
    # Read only under params.rules_version 2 (contracts/README.md, "Rules versions"):
    class_backdate_seconds: NonNegative = 7 * 86_400
    upload_delay_seconds: NonNegative = 7 * 86_400
    min_study_day_seconds: NonNegative = 4 * 2_700
    publicity_working_days: Annotated[int, Field(ge=0, le=366, strict=True)] = 0
    groups: tuple[str, ...] | None = None
    """The groups eligible for the training subsidy (v2); None: ``eligible_groups``."""
    special_groups: tuple[str, ...] = SPECIAL_GROUPS
    """The groups that also receive the living allowance (v2)."""

    @field_validator("eligible_groups")
    @classmethod
    def _groups_known(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        for group in groups:
            if group not in SPECIAL_GROUPS and group != "general":
                raise ValueError(f"unknown group {group!r}")
        return groups

    @field_validator("groups", "special_groups")
    @classmethod
    def _group_codes(cls, groups: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for group in groups or ():
            if not re.fullmatch(r"[a-z][a-z0-9_+\-]{0,63}", group):
                raise ValueError(f"group {group!r} is not a code (a-z 0-9 _ + -)")
        return groups

    @property
    def subsidy_groups(self) -> tuple[str, ...]:
        """The v2 group table: ``groups``, or ``eligible_groups`` when not given."""
        return self.eligible_groups if self.groups is None else self.groups


class ChainParams(_Strict):
    """Chain parameters beyond policy; the admin may change them later (registry.set_params)."""

    tx_window_heights: Annotated[int, Field(ge=1, le=100_000, strict=True)] = 1_000
    valset_delay_heights: Annotated[int, Field(ge=1, le=10_000, strict=True)] = 2
    max_session_seconds: Annotated[int, Field(ge=60, le=86_400, strict=True)] = 12 * 3600
    min_session_seconds: Annotated[int, Field(ge=1, le=3_600, strict=True)] = 60
    shortfall_day_seconds: Annotated[int, Field(ge=3_600, le=86_400, strict=True)] = 8 * 3600
    rules_version: Literal[1, 2] = 1
    """The contract rules the chain runs (fixed at genesis): 1, the rules before issue 16
    (the default, so every genesis written before it replays as it was made); 2, evidence
    tied to enrolment, dated occupation terms, honest allowance days, no retroactive
    policy, publicity fixed at listing (``contracts/README.md``, "Rules versions")."""


class ConsensusParams(_Strict):
    """The timing of agreement, the same at every validator (fixed at genesis).

    Defaults suit 4 to 12 validators tens of milliseconds apart (a provincial
    WAN): a height takes a few round trips (~0.1-0.4 s) plus executing its
    block (up to ~1.5 s for a full block on a busy 2-core machine), so a view
    change after ``base_timeout_ms`` (3 s) without progress means the primary
    failed, not that it is slow; the timer is renewed while a height advances.
    Each consecutive view change doubles the timeout up to ``max_timeout_ms``
    (30 s), so a network that lost its quorum for a while does not spin.
    ``block_interval_ms`` paces proposals while txs arrive (a tx waits about
    one height); an idle chain makes no blocks, unless
    ``empty_block_interval_s`` (0: off) asks for at most one empty block per
    that many seconds, for networks that want the head's time to stay fresh.
    ``leader_window_heights`` (24: two rounds of 12 bureaus) sets how long a
    bureau whose turn failed is passed over.
    """

    base_timeout_ms: Annotated[int, Field(ge=100, le=600_000, strict=True)] = 3_000
    max_timeout_ms: Annotated[int, Field(ge=100, le=3_600_000, strict=True)] = 30_000
    block_interval_ms: Annotated[int, Field(ge=0, le=60_000, strict=True)] = 200
    empty_block_interval_s: Annotated[int, Field(ge=0, le=86_400, strict=True)] = 0
    leader_window_heights: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 24
    """Leader reputation (``consensus.leaders``): a validator whose view-0 turn failed
    within this many heights is passed over (at most f at a time); 0: plain rotation."""

    @model_validator(mode="after")
    def _cap_above_base(self) -> ConsensusParams:
        if self.max_timeout_ms < self.base_timeout_ms:
            raise ValueError("max_timeout_ms must be at least base_timeout_ms")
        return self


class Fund(_Strict):
    """A city's budget from one source."""

    region_code: RegionCode
    source: Literal["employment_subsidy", "unemployment_insurance"]
    budget_fen: Fen


class Genesis(_Strict):
    """The whole genesis file."""

    chain_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,63}$")]
    crypto_suite: StrictStr
    genesis_time: NonNegative
    development_keys: StrictBool = False
    note: str = ""
    cities: dict[str, Name]
    validators: Annotated[tuple[GenesisValidator, ...], Field(min_length=1, max_length=100)]
    actors: tuple[Actor, ...]
    occupations: Annotated[tuple[Occupation, ...], Field(max_length=10_000)]
    policy: Policy
    funds: tuple[Fund, ...]
    params: ChainParams = Field(default_factory=ChainParams)
    consensus: ConsensusParams = Field(default_factory=ConsensusParams)

    @field_validator("crypto_suite")
    @classmethod
    def _suite_known(cls, name: str) -> str:
        if name not in suite_names():
            raise ValueError(f"unknown crypto suite; known: {', '.join(suite_names())}")
        return name

    @model_validator(mode="after")
    def _cross_references(self) -> Genesis:
        suite = get_suite(self.crypto_suite)
        for where, key in self._all_keys():
            _check_key_hex(suite, key, where)
        keys = [key for _, key in self._all_keys()]
        if len(set(keys)) != len(keys):
            raise ValueError("a public key appears twice (validators and actors included)")
        ids = [actor.id for actor in self.actors]
        if len(set(ids)) != len(ids):
            raise ValueError("an actor id appears twice")
        if not any(actor.role == "admin" for actor in self.actors):
            raise ValueError("genesis needs at least one admin actor")
        cities = set(self.cities)
        for where, city in self._city_references():
            if city not in cities:
                raise ValueError(f"{where} names city {city!r}, which is not in cities")
        seen = set()
        for occupation in self.occupations:
            ident = (occupation.code, occupation.edition, occupation.level)
            if ident in seen:
                raise ValueError(f"occupation {ident} is listed twice")
            seen.add(ident)
        return self

    def _all_keys(self) -> list[tuple[str, str]]:
        found = [(f"validators[{i}]", v.public_key) for i, v in enumerate(self.validators)]
        for actor in self.actors:
            found.extend((f"actor {actor.id}", key) for key in actor.public_keys)
        return found

    def _city_references(self) -> list[tuple[str, str]]:
        refs = [(f"validator {v.name}", v.region_code) for v in self.validators]
        refs += [(f"actor {a.id}", a.region_code) for a in self.actors if a.role == "bureau"]
        refs += [(f"fund {f.region_code}/{f.source}", f.region_code) for f in self.funds]
        return refs

    @property
    def suite(self) -> CryptoSuite:
        return get_suite(self.crypto_suite)

    def validator_set(self) -> ValidatorSet:
        """The validators in force at height 1."""
        return ValidatorSet(
            Validator(bytes.fromhex(v.public_key), v.name, v.region_code) for v in self.validators
        )


def _check_key_hex(suite: CryptoSuite, key: str, where: str) -> None:
    try:
        raw = bytes.fromhex(key)
    except ValueError:
        raise ValueError(f"{where}: public key is not hex") from None
    if len(raw) != suite.public_key_bytes:
        raise ValueError(
            f"{where}: public key has {len(raw)} bytes; {suite.name} keys have "
            f"{suite.public_key_bytes}"
        )


def parse_genesis(text: str | bytes, source: str = "genesis") -> tuple[Genesis, bytes]:
    """Validate genesis JSON text; return the model and the genesis hash."""
    try:
        raw = json.loads(text, parse_float=_no_floats, parse_constant=_no_floats)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GenesisError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise GenesisError(f"{source}: the top level must be a JSON object")
    try:
        genesis = Genesis.model_validate(raw)
    except ValidationError as exc:
        raise GenesisError(f"{source}: {_describe(exc)}") from None
    return genesis, genesis_hash(genesis.suite, raw)


def load_genesis(path: str | Path) -> tuple[Genesis, bytes]:
    """Read and validate a genesis file; errors name the file and each bad field."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise GenesisError(f"cannot read genesis file {path}: {exc.strerror}") from None
    return parse_genesis(text, str(path))


def genesis_hash(suite: CryptoSuite, raw: dict) -> bytes:
    """Tagged hash of the canonical JSON of a parsed genesis object."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return suite.tagged_hash(TAG_GENESIS, canonical.encode())


def _no_floats(token: str) -> None:
    raise ValueError(f"non-integer number {token}: use integers (fen, seconds)")


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return f"{len(problems)} problem(s): " + "; ".join(problems)
