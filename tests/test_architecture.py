"""The arrows of DESIGN.md's layout, read from the code's own imports: ledger and policy know
nothing of reserve, config imports no app module, a selector never imports a service, reserve's
subdomains depend only downwards (their models are the shared floor), and reserve reads the
ledger's tables only through ledger's selectors."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# reserve's subpackages, top (faces) to bottom; a module may import its own layer or any below.
LAYERS = [
    {"admin", "api", "management", "tasks", "templatetags", "models", "public"},
    {"reports", "proofs"},
    {"reconciliation"},
    {"imports"},
    {"transfers"},
    {"compliance"},
    {"custody", "pricing"},
    {"access", "outbox", "notifications"},
    {"audit"},
    {"chain", "common"},
]
BOOKS_FACES = {"reserve/admin/ledger.py", "reserve/admin/navigation.py", "reserve/api/ledger.py"}
LEDGER_TABLE = re.compile(r"\bledger_(entry|journaltransaction|account|accountbalance|pending\w*|checkpoint\w*)\b")


def _sources(*packages: str) -> list[Path]:
    return [
        path
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    ]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _subpackage(path: Path) -> str:
    parts = path.relative_to(ROOT / "reserve").parts
    return parts[0].removesuffix(".py")


def _layer(name: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if name in layer)


@pytest.mark.parametrize(("package", "forbidden"), [("ledger", ("policy", "reserve")), ("policy", ("reserve",))])
def test_lower_apps_import_nothing_above_them(package: str, forbidden: tuple[str, ...]) -> None:
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources(package)
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    ]
    assert found == []


def test_config_imports_no_app_module() -> None:
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("config")
        for name in _imports(path)
        if name.split(".")[0] in ("ledger", "policy", "reserve")
    ]
    assert found == []


def test_a_selector_never_imports_a_service() -> None:
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("ledger", "policy", "reserve")
        if path.name == "selectors.py"
        for name in _imports(path)
        if re.search(r"(^|\.)services(\.|$)", name)
    ]
    assert found == []


def test_every_reserve_subpackage_has_a_layer() -> None:
    names = {_subpackage(path) for path in _sources("reserve")} - {"__init__", "apps"}
    assert names <= set().union(*LAYERS), names - set().union(*LAYERS)


def test_reserve_subdomains_depend_only_downwards() -> None:
    upward = []
    for path in _sources("reserve"):
        source = _subpackage(path)
        if source in ("__init__", "apps"):
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "reserve" or len(parts) < 2 or parts[1] == source:
                continue
            if len(parts) > 2 and parts[2] == "models":
                continue  # the schema is the shared floor: checked by the next test
            if _layer(parts[1]) < _layer(source):
                upward.append((str(path.relative_to(ROOT)), name))
    assert upward == []


def test_models_import_only_models_and_the_shared_pieces() -> None:
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("reserve")
        if path.name == "models.py"
        for name in _imports(path)
        if name.startswith("reserve.") and not re.match(r"reserve\.(\w+\.models|common\.)", name)
    ]
    assert found == []


def test_no_sql_over_the_ledgers_tables_outside_ledger() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in _sources("reserve", "policy", "config")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and LEDGER_TABLE.search(node.value)
        and re.search(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN)\b", node.value, re.IGNORECASE)
    ]
    assert found == []


def test_reserve_reads_balances_only_through_ledger_selectors() -> None:
    balance_models = {"AccountBalance", "Entry", "PendingEntry", "Checkpoint"}
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("reserve")
        # The faces that present the books themselves (journal and entry lists, read-only).
        if path.relative_to(ROOT).as_posix() not in BOOKS_FACES
        for name in _imports(path)
        if name.startswith("ledger.models.") and name.rsplit(".", 1)[1] in balance_models
    ]
    assert found == []


def test_reconciliation_speaks_to_the_chain_through_its_protocol() -> None:
    # The follower and the runs type against chain/source.py's ChainSource; only the tasks and
    # commands that wire a real node (tasks.py, management/) construct the RPC adapter.
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("reserve/reconciliation")
        for name in _imports(path)
        if name.startswith("reserve.chain.rpc")
    ]
    assert found == []


# What reconciliation may import of chain/: the verified-block API, the Protocol, the errors.
RECONCILIATION_CHAIN_API = {"reserve.chain.follow", "reserve.chain.source", "reserve.chain.errors"}


def test_reconciliation_only_applies_verified_blocks() -> None:
    # Parsing and verifying a block happen once, in chain/follow.py; reconciliation never
    # scans, verifies or deserializes a whole block itself (docs/RECONCILIATION.md).
    found = [
        (str(path.relative_to(ROOT)), name)
        for path in _sources("reserve/reconciliation")
        for name in _imports(path)
        if (name.startswith("reserve.chain") and not any(name.startswith(api) for api in RECONCILIATION_CHAIN_API))
        or name in ("bitcoin.core.CBlock", "bitcoin.core.CBlockHeader")
    ]
    assert found == []
