"""The layers import one way (DESIGN.md): dispatch < core < ops < frontends; plugins see only
the dispatch layer (and the value types), and only the registry reaches a plugin, through
entry points. Every import statement in ``ember/`` is read, including those inside functions."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ember"

#: plain value types every layer may use
VALUE_TYPES = {"ember.core.dtype", "ember.core.device", "ember.core.info", "ember.core.layout"}
#: which layers each layer may import
ALLOWED = {
    "value": {"value"},
    "dispatch": {"value", "dispatch"},
    "core": {"value", "dispatch", "core"},
    "ops": {"value", "dispatch", "core", "ops"},
    "frontend": {"value", "dispatch", "core", "ops", "frontend"},
    "plugins": {"value", "dispatch", "plugins"},
}


def layer_of(module: str) -> str:
    if module in VALUE_TYPES or any(module.startswith(v + ".") for v in VALUE_TYPES):
        return "value"
    for prefix, layer in (("ember.dispatch", "dispatch"), ("ember.core", "core"), ("ember.ops", "ops"),
                          ("ember.plugins", "plugins")):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return "frontend"  # ember itself, nn, optim, utils, serialization, testing, cuda, mps, ...


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool):
    """(line, imported ember module) for every import statement in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from ember.ops import creation` imports the module ember.ops.creation
            names = [f"{base}.{a.name}" if base in ("ember", "ember.ops", "ember.core", "ember.dispatch",
                                                    "ember.plugins", "ember.nn") else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "ember" or name.startswith("ember."):
                yield node.lineno, name


def violations(source: str, module: str, is_package: bool = False):
    """The upward (or plugin-reaching) imports of ``source``, as readable strings."""
    found = []
    layer = layer_of(module)
    for line, target in imported_modules(source, module, is_package):
        target_layer = layer_of(target)
        if target_layer == "plugins" and layer != "plugins":
            found.append(f"{module}:{line} imports the plugin module {target} (only the registry reaches "
                         f"plugins, through entry points)")
        elif target == "ember" and layer != "frontend":
            found.append(f"{module}:{line} imports the top-level package ember from the {layer} layer")
        elif target_layer not in ALLOWED[layer]:
            found.append(f"{module}:{line} ({layer}) imports {target} ({target_layer}): an upward import")
    return found


def test_no_upward_imports():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        found += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert not found, "imports against the layers:\n" + "\n".join(found)


# The 17 upward imports of the tree before the layers were fixed (commit 3f8abe7): each must be caught.
EARLIER_UPWARD_IMPORTS = [
    ("ember.core.autograd", "from ember.ops.creation import clone"),
    ("ember.core.autograd", "from ember.ops.reduction import sum_to_shape"),
    ("ember.core.call", "from ember.ops.creation import to_device"),
    ("ember.core.call", "from ember.ops.creation import cast"),
    ("ember.core.call", "from ember.ops.creation import to_device"),
    ("ember.core.call", "from ember.ops.creation import zeros_like"),
    ("ember.core.derivatives", "from ember import ops as E"),
    ("ember.core.derivatives", "from ember.nn.functional import conv as C"),
    ("ember.core.derivatives", "from ember.nn.functional import conv as C"),
    ("ember.core.derivatives", "from ember.nn.functional.pooling import max_pool_input_grad"),
    ("ember.core.pickling", "from ember.ops.creation import canonical_device"),
    ("ember.core.pickling", "from ember.ops.creation import to_numpy"),
    ("ember.core.printing", "from ember.ops.creation import to_numpy"),
    ("ember.core.views", "from ember.ops.creation import arange"),
    ("ember.core.views", "from ember.ops.creation import ones_like"),
    ("ember.dispatch.meta", "from ember.core.tensor import Tensor"),
    ("ember.ops.random", "from ember.plugins.xp import counter_steps"),
]


@pytest.mark.parametrize("module, statement", EARLIER_UPWARD_IMPORTS)
def test_the_check_catches_upward_imports(module, statement):
    inside_a_function = f"def f():\n    {statement}\n"
    assert violations(statement, module), statement
    assert violations(inside_a_function, module), "imports inside functions are read too"


def test_the_check_allows_downward_imports():
    assert not violations("from ember.dispatch.ops import OPS\nfrom ember.core import dtype", "ember.core.call")
    assert not violations("from ember.core.call import call", "ember.ops.shape")
    assert not violations("import ember\nfrom ember.ops import creation", "ember.nn.functional.loss")
    assert not violations("from ember.core import dtype as dt\nfrom ember.dispatch.backend import Backend",
                          "ember.plugins.cpu.backend")
    assert not violations("from . import backend", "ember.plugins.cpu", is_package=True)
