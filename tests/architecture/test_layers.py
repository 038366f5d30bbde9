"""The layers' import rules (README, Architecture): dependencies point inward.

domain imports nothing of ours outside domain, and no framework but `eventsourcing.domain`;
application imports no infrastructure, interfaces, projections or scripts; projections import no
interfaces or scripts; infrastructure imports no interfaces, scripts or projections; interfaces
import no scripts. The composition root (interfaces/composition/) is the one place that wires
projections and infrastructure together; the operator scripts are the outermost layer, so they
may import interfaces (the process runners, the composition root) but never the reverse.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"domain", "application", "projections", "infrastructure", "interfaces", "scripts"}
FORBIDDEN = {
    "domain": OURS - {"domain"},
    "application": {"infrastructure", "interfaces", "projections", "scripts"},
    "projections": {"interfaces", "scripts"},
    "infrastructure": {"interfaces", "scripts", "projections"},
    "interfaces": {"scripts"},
}
DOMAIN_THIRD_PARTY = {"eventsourcing.domain"}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_dependencies_point_inward(layer: str) -> None:
    broken = [f"{path.relative_to(ROOT)} imports {name}"
              for path in modules(layer)
              for name in imports(path) if name.split(".")[0] in FORBIDDEN[layer]]
    assert broken == []


def test_domain_uses_no_framework_but_the_event_sourcing_domain() -> None:
    import sys

    stdlib = sys.stdlib_module_names
    broken = [f"{path.relative_to(ROOT)} imports {name}"
              for path in modules("domain") for name in imports(path)
              if name.split(".")[0] not in stdlib | {"domain", "__future__"}
              and not any(name == allowed or name.startswith(allowed + ".")
                          for allowed in DOMAIN_THIRD_PARTY)]
    assert broken == []


def test_the_rules_see_the_tree() -> None:
    """The walk finds modules and imports, so an empty result above means something."""
    assert len(modules("domain")) > 5 and len(modules("application")) > 10
    assert "application.access" in imports(ROOT / "application" / "models.py")
    assert "interfaces.cli" in imports(ROOT / "scripts" / "chronicle.py")  # lazy imports count too
