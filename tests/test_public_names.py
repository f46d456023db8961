"""The public-name census (issue 13): every public name PyTorch 2.13 has in the namespaces
programs use (tests/fixtures/public_names.json, recorded by record_public_names.py beside
it) exists at the same path in ember, unless it is a deliberate omission with its reason
(tests/fixtures/public_name_omissions.json, {"namespace.name": reason}) or on the list of
names known missing today (tests/fixtures/public_names_missing.json, {namespace: [names]}),
which may only shrink: a listed name that now exists fails the test until the list is
regenerated (``.venv/bin/python tests/fixtures/record_public_names.py --ember``).

``torch.X.name`` is looked up as ``ember.X.name`` (``torch.Tensor.name`` on ``ember.Tensor``),
importing ``ember.X`` as a program's ``import torch.X`` would.
"""
from __future__ import annotations

import importlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
THRESHOLD = 0.85  # issue 13's acceptance: present / (recorded - deliberate omissions)

# A reason must say why the name is left out, not that it is still to do.
_NOT_A_REASON = ("not done", "todo", "later", "not yet", "missing")


def _load(name):
    return json.loads((FIXTURES / name).read_text())


def _import(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(path)
    except ImportError:
        return None


def resolve(ns: str):
    """ember's object for the PyTorch namespace ``ns`` ("torch.nn.functional"), or None."""
    import ember
    if ns == "torch.Tensor":
        return ember.Tensor
    parts = ns.split(".")[1:]
    module = _import(".".join(["ember", *parts]))
    if module is not None:
        return module
    obj = ember
    for part in parts:  # a namespace that is an attribute, not a module
        obj = lookup(obj, part, None)
        if obj is None:
            return None
    return obj


def lookup(obj, name, default=None):
    """``obj.name``, importing it first where ``obj`` is a package and ``name`` its submodule."""
    try:
        return getattr(obj, name)
    except AttributeError:
        pass
    except Exception:  # a name that raises on access does not work
        return default
    package = getattr(obj, "__name__", None)
    if isinstance(package, str) and hasattr(obj, "__path__"):
        found = _import(f"{package}.{name}")
        if found is not None:
            return found
    return default


_ABSENT = object()


@dataclass
class Census:
    """Per namespace: the recorded names present in ember and the ones missing."""
    present_by_ns: dict = field(default_factory=dict)
    missing_by_ns: dict = field(default_factory=dict)  # ns -> (present count, [missing names])
    omitted: set = field(default_factory=set)          # "ns.name" keys, deliberate and absent
    stale_omissions: list = field(default_factory=list)

    def totals(self):
        present = sum(len(v) for v in self.present_by_ns.values())
        counted = present + sum(len(names) for _, names in self.missing_by_ns.values())
        return present, counted

    def report(self) -> str:
        """present/total per namespace (total excludes deliberate omissions), and overall."""
        rows = []
        for ns in sorted(self.present_by_ns):
            present = len(self.present_by_ns[ns])
            total = present + len(self.missing_by_ns[ns][1])
            omitted = sum(1 for key in self.omitted if key.rpartition(".")[0] == ns)
            rows.append(f"{ns:42s} {present:4d}/{total:<4d}" + (f"  (+{omitted} omitted)" if omitted else ""))
        present, counted = self.totals()
        rows.append(f"{'overall':42s} {present:4d}/{counted:<4d} = {present / max(counted, 1):.1%}"
                    f"  ({len(self.omitted)} deliberate omissions)")
        return "\n".join(rows)


def census() -> Census:
    """Look every recorded name up in ember."""
    recorded = _load("public_names.json")
    omissions = _load("public_name_omissions.json")
    result = Census()
    for ns, names in recorded.items():
        target = resolve(ns)
        present, missing = [], []
        for name in names:
            key = f"{ns}.{name}"
            exists = target is not None and lookup(target, name, _ABSENT) is not _ABSENT
            if key in omissions:
                (result.stale_omissions.append(key) if exists else result.omitted.add(key))
            elif exists:
                present.append(name)
            else:
                missing.append(name)
        result.present_by_ns[ns] = present
        result.missing_by_ns[ns] = (len(present), missing)
    return result


@pytest.fixture(scope="module")
def result():
    return census()


def test_no_unlisted_missing_name(result):
    known = _load("public_names_missing.json")
    unlisted = {ns: sorted(set(names) - set(known.get(ns, ())))
                for ns, (_, names) in result.missing_by_ns.items()}
    unlisted = {ns: names for ns, names in unlisted.items() if names}
    assert not unlisted, f"PyTorch names ember lacks (add them, or a deliberate omission with its reason): {unlisted}"


def test_known_missing_list_only_shrinks(result):
    known = _load("public_names_missing.json")
    recorded = _load("public_names.json")
    now_present = {ns: sorted(set(names) & set(result.present_by_ns.get(ns, ()))) for ns, names in known.items()}
    now_present = {ns: names for ns, names in now_present.items() if names}
    assert not now_present, ("names listed as missing exist now: regenerate the list with "
                             f"`.venv/bin/python tests/fixtures/record_public_names.py --ember`: {now_present}")
    unknown = {ns: sorted(set(names) - set(recorded.get(ns, ()))) for ns, names in known.items()}
    assert not {ns: n for ns, n in unknown.items() if n}, f"missing-list entries PyTorch does not have: {unknown}"


def test_omissions_are_deliberate_and_current(result):
    omissions = _load("public_name_omissions.json")
    recorded = _load("public_names.json")
    assert not result.stale_omissions, f"omitted names that exist in ember after all: {result.stale_omissions}"
    keys = {f"{ns}.{name}" for ns, names in recorded.items() for name in names}
    assert not sorted(set(omissions) - keys), f"omissions of names PyTorch does not have: {sorted(set(omissions) - keys)}"
    vague = {k: r for k, r in omissions.items() if len(r) < 12 or any(w in r.lower() for w in _NOT_A_REASON)}
    assert not vague, f"an omission needs a specific reason for leaving the name out: {vague}"


def test_known_missing_disjoint_from_omissions():
    omissions = _load("public_name_omissions.json")
    known = _load("public_names_missing.json")
    both = sorted(f"{ns}.{n}" for ns, names in known.items() for n in names if f"{ns}.{n}" in omissions)
    assert not both, f"names both omitted deliberately and listed as missing: {both}"


def test_coverage_report(result, capsys):
    present, counted = result.totals()
    with capsys.disabled():
        print("\npublic-name census: present/total per namespace\n" + result.report())
    assert counted > 2000 and present > 0  # the fixture is whole and the lookup works


def test_at_least_85_percent_present(result):
    present, counted = result.totals()
    assert present >= THRESHOLD * counted, f"{present}/{counted} = {present / counted:.1%} < {THRESHOLD:.0%}"
