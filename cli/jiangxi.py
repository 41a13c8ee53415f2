"""The Jiangxi network's genesis: cities, bureaus, the admin, occupations, policy, funds.

``genesis.json`` in the repository is this module's output for 12 validators
(every prefecture bureau plus Ganjiang New Area), and ``skillchain genesis new``
uses it for smaller local networks.

**Development keys.** Every key here is derived from a public label
(``sha256("skillchain-dev-key/" + label)``), so anyone can rebuild it: the
file says ``"development_keys": true``, and a production network must be
generated with fresh keys. Deriving them lets tests, the demo and the
benchmark sign as any actor without shipping key files.

**Illustrative values.** Amounts, caps and rates come from Jiangxi city guides
under 赣人社发〔2019〕3号 and are unconfirmed; entries carrying them are marked
``"illustrative": true``. Hours per occupation are plausible, not official.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chain.crypto import DEFAULT_SUITE, Signer, get_suite
from cli.jiangxi_catalogue import OCCUPATIONS

__all__ = [
    "ADMIN_ID",
    "ADMIN_NAME",
    "CITIES",
    "GANJIANG_PSEUDO_CODE",
    "PROVINCE_CODE",
    "bureau_actor",
    "catalogue_sections",
    "dev_signer",
    "jiangxi_genesis",
]

GANJIANG_PSEUDO_CODE = "369900"
"""Ganjiang New Area spans parts of Nanchang and Jiujiang and has no division
code; 36 99 00 is unused in GB/T 2260, so it cannot collide with a real city."""

CITIES: dict[str, tuple[str, str]] = {
    "360100": ("南昌市", "Nanchang"),
    "360200": ("景德镇市", "Jingdezhen"),
    "360300": ("萍乡市", "Pingxiang"),
    "360400": ("九江市", "Jiujiang"),
    "360500": ("新余市", "Xinyu"),
    "360600": ("鹰潭市", "Yingtan"),
    "360700": ("赣州市", "Ganzhou"),
    "360800": ("吉安市", "Ji'an"),
    "360900": ("宜春市", "Yichun"),
    "361000": ("抚州市", "Fuzhou"),
    "361100": ("上饶市", "Shangrao"),
    GANJIANG_PSEUDO_CODE: ("赣江新区", "Ganjiang New Area"),
}

ADMIN_ID = "jx-hrss"
ADMIN_NAME = "江西省人力资源和社会保障厅"
PROVINCE_CODE = "360000"

GENESIS_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z
TEACHING_HOUR_S = 2_700  # 45 minutes
DAY_S = 86_400

LEVEL_STANDARD_FEN = {5: 120_000, 4: 150_000, 3: 200_000, 2: 400_000, 1: 500_000}
FLAT_STANDARD_FEN = 100_000  # special ability, training completion, special operations

SAMPLE_PROVIDERS = (
    ("provider-ganpo", "赣鄱职业技能在线 (sample platform)", "360100"),
    ("provider-hongcheng", "洪城技能云课堂 (sample platform)", "360100"),
    ("provider-lushan", "庐山e学 (sample platform)", "360400"),
)
SAMPLE_ORGANIZERS = (
    ("organizer-nc-school", "南昌某职业培训学校 (sample)", "360100"),
    ("organizer-gz-coop", "赣州某用工企业 (sample)", "360700"),
    ("organizer-jj-center", "九江某培训中心 (sample)", "360400"),
)


def dev_signer(label: str, suite_name: str = DEFAULT_SUITE) -> Signer:
    """The development key for ``label`` (e.g. ``validator/360100``, ``actor/jx-hrss``)."""
    seed = hashlib.sha256(b"skillchain-dev-key/" + label.encode()).digest()
    return get_suite(suite_name).signer_from_seed(seed)


def _standards(level: int, certificate_types: tuple[str, ...]) -> dict[str, int]:
    standards = {}
    for kind in certificate_types:
        by_level = kind in ("skill_level", "occupational_qualification")
        standards[kind] = LEVEL_STANDARD_FEN[level] if by_level else FLAT_STANDARD_FEN
    return standards


def occupations() -> list[dict[str, Any]]:
    """The catalogue as genesis entries: one per occupation and level."""
    entries = []
    for occ in OCCUPATIONS:
        for level in occ["levels"]:
            kinds = tuple(occ["certificate_types"])
            entries.append(
                {
                    "code": occ["code"],
                    "edition": occ["edition"],
                    "name": f"{occ['name_zh']} / {occ['name_en']}",
                    "level": level,
                    "theory_seconds": occ["theory_hours"][level] * TEACHING_HOUR_S,
                    "practical_seconds": occ["practical_hours"][level] * TEACHING_HOUR_S,
                    "simulation_allowed": occ["simulation_allowed"],
                    "certificate_types": list(kinds),
                    "standards_fen": _standards(level, kinds),
                    "city_overrides_fen": {},
                    "illustrative": True,
                }
            )
    return entries


def _policy() -> dict[str, Any]:
    return {
        "effective_from": GENESIS_TIME,
        "daily_cap_seconds": 8 * 3600,
        "face_check_interval_seconds": 30 * 60,
        "teaching_hour_seconds": TEACHING_HOUR_S,
        "simulation_cap_percent": 50,
        "yearly_claim_limit": 3,
        "claim_window_seconds": 365 * DAY_S,
        "living_allowance_fen_per_day": 5_000,
        "living_allowance_cap_days": 30,
        "shortfall_fen_per_day": 10_000,
        "shortfall_cap_percent": 60,
        "publicity_seconds": 7 * DAY_S,
        "eligible_groups": [
            "general",
            "poor_rural_labourer",
            "poor_urban_labourer",
            "unemployed_with_difficulty",
            "rural_graduate_not_continuing",
            "low_income_urban_graduate_not_continuing",
        ],
        "illustrative": True,
    }


KeyFor = Callable[[str], Signer]

DEV_NOTE = (
    "Development genesis: every key is derived from a public label and must not "
    "be used in production. Entries marked illustrative carry unconfirmed amounts "
    "and hours (see DOMAIN.md)."
)


def _actor(actor_id: str, role: str, name: str, region: str, key_for: KeyFor) -> dict[str, Any]:
    key = key_for(f"actor/{actor_id}").public_key.hex()
    return {"id": actor_id, "role": role, "name": name, "region_code": region, "public_keys": [key]}


def bureau_actor(code: str, public_keys: list[str]) -> dict[str, Any]:
    """The bureau of city ``code`` as a genesis actor: its officers sign with these keys."""
    zh = CITIES[code][0] if code in CITIES else code
    return {
        "id": f"bureau-{code}",
        "role": "bureau",
        "name": f"{zh}人力资源和社会保障局",
        "region_code": code,
        "public_keys": public_keys,
    }


def catalogue_sections() -> dict[str, Any]:
    """The parts of genesis that hold no key: cities, occupations, policy, funds.

    ``genesis new`` and ``genesis init`` share them, so a network built from
    bureau cards runs the same rules as the development network.
    """
    codes = list(CITIES)
    return {
        "cities": {code: f"{zh} / {en}" for code, (zh, en) in CITIES.items()},
        "occupations": occupations(),
        "policy": _policy(),
        "funds": [
            {"region_code": code, "source": source, "budget_fen": budget}
            for code in codes
            for source, budget in (
                ("employment_subsidy", 50_000_000_00),
                ("unemployment_insurance", 20_000_000_00),
            )
        ],
    }


def jiangxi_genesis(
    validators: int = 12,
    chain_id: str = "jiangxi-skills-dev",
    suite_name: str = DEFAULT_SUITE,
    key_for: KeyFor | None = None,
    note: str = DEV_NOTE,
) -> dict[str, Any]:
    """A genesis document whose first ``validators`` bureaus run validator nodes.

    ``key_for(label)`` supplies each key; by default the development key of
    that label (see the module docstring). Every key of the result was made
    by one party, so it says ``"development_keys": true`` whichever
    ``key_for`` made them; ``note`` says how they were made.
    """
    if key_for is None:

        def key_for(label: str) -> Signer:
            return dev_signer(label, suite_name)

    if not 1 <= validators <= len(CITIES):
        raise ValueError(f"validators must be 1..{len(CITIES)}")
    codes = list(CITIES)
    actors = [_actor(ADMIN_ID, "admin", ADMIN_NAME, PROVINCE_CODE, key_for)]
    actors += [
        bureau_actor(code, [key_for(f"actor/bureau-{code}").public_key.hex()]) for code in CITIES
    ]
    actors += [_actor(i, "provider", n, r, key_for) for i, n, r in SAMPLE_PROVIDERS]
    actors += [_actor(i, "organizer", n, r, key_for) for i, n, r in SAMPLE_ORGANIZERS]
    sections = catalogue_sections()
    return {
        "chain_id": chain_id,
        "crypto_suite": suite_name,
        "genesis_time": GENESIS_TIME,
        "development_keys": True,
        "note": note,
        "cities": sections["cities"],
        "validators": [
            {
                "name": f"{CITIES[code][1]} bureau validator",
                "region_code": code,
                "public_key": key_for(f"validator/{code}").public_key.hex(),
            }
            for code in codes[:validators]
        ],
        "actors": actors,
        "occupations": sections["occupations"],
        "policy": sections["policy"],
        "funds": sections["funds"],
    }
