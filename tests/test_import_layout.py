"""The package's imports go one way (DESIGN.md; issue 18 item 7): no import cycle, and none
held together by an import inside a function. weights/ and deploy/ learn about the families
from keras_minimal.model_families, never by importing applications back."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "keras_minimal"
# Imports inside functions that load one backend's code only when that backend runs.
BACKEND_SPECIFIC = {
    ("keras_minimal.training.agc.model", "keras_minimal.training.agc.tensorflow_train_step"),
    ("keras_minimal.training.agc.model", "keras_minimal.training.agc.jax_train_step"),
    ("keras_minimal.training.agc.model", "keras_minimal.training.agc.torch_train_step"),
    ("keras_minimal.training.distribute", "keras_minimal.training.distribute.tensorflow"),
    ("keras_minimal.training.distribute", "keras_minimal.training.distribute.jax"),
}
# Packages below applications: they must not import it.
BELOW_APPLICATIONS = (
    "keras_minimal.weights",
    "keras_minimal.deploy",
    "keras_minimal.layers",
    "keras_minimal.quantization",
)


def _modules():
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text())
    return modules


MODULES = _modules()


def _imported(node):
    """The keras_minimal modules an import statement names."""
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_minimal"):
        return [
            f"{node.module}.{alias.name}"
            if f"{node.module}.{alias.name}" in MODULES
            else node.module
            for alias in node.names
        ]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("keras_minimal")]
    return []


def _top_level_imports(tree):
    return {target for node in tree.body for target in _imported(node)}


def _function_imports(tree):
    found = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                found.update(_imported(node))
    return found


def _find_cycle(graph):
    """A cycle of `graph` (name → imported names) as a path, or None."""
    visiting, done = set(), set()

    def visit(name, path):
        if name in done:
            return None
        if name in visiting:
            return [*path, name]
        visiting.add(name)
        for target in sorted(graph.get(name, ())):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        visiting.discard(name)
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycle_between_modules():
    graph = {name: _top_level_imports(tree) & MODULES.keys() for name, tree in MODULES.items()}
    assert _find_cycle(graph) is None


def test_a_planted_cycle_is_found():
    trees = {
        "keras_minimal.a": ast.parse("import keras_minimal.b"),
        "keras_minimal.b": ast.parse("import keras_minimal.a\nimport keras_minimal.c"),
        "keras_minimal.c": ast.parse("import numpy"),
    }
    graph = {name: _top_level_imports(tree) for name, tree in trees.items()}
    assert _find_cycle(graph) == ["keras_minimal.a", "keras_minimal.b", "keras_minimal.a"]


def test_imports_inside_functions_only_load_one_backend_s_code():
    inside = {
        (name, target) for name, tree in MODULES.items() for target in _function_imports(tree)
    }
    assert inside <= BACKEND_SPECIFIC, sorted(inside - BACKEND_SPECIFIC)


def test_weights_deploy_quantization_and_layers_never_import_applications():
    offenders = [
        (name, target)
        for name, tree in MODULES.items()
        if name.startswith(BELOW_APPLICATIONS)
        for target in _top_level_imports(tree) | _function_imports(tree)
        if target.startswith("keras_minimal.applications")
    ]
    assert offenders == []
