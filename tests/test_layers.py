"""The layering rules, checked on the import graph (an AST walk of every source file; nothing is imported).

* the library (``src/tunesmith`` outside the adapters ``cli/`` and ``web/``) never imports an adapter;
* the base layer (``audio``, ``features``, ``notes``, ``render``, ``plots``, ``io``, ``batch``, ...) never
  imports a model package (``transcribe``, ``compose``, ``transform``, ``classify``);
* nothing imports another package's private name (``_name``, or a name from a ``_module``): a private
  name may be used only inside the package that defines it (the CLI cannot reach ``transcribe._x``);
* the library never calls ``print``;
* benchmarks and tests never import ``scripts/`` (neither by module name nor through ``sys.path``).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ADAPTERS = ("cli", "web", "__main__")   # __main__: ``python -m tunesmith``, an entry point into the CLI
MODEL_PACKAGES = ("transcribe", "compose", "transform", "classify")


def module_name(path: Path) -> str:
    """``src/tunesmith/compose/data.py`` -> ``tunesmith.compose.data``; ``benchmarks/x.py`` -> ``benchmarks.x``."""
    rel = path.relative_to(SRC if path.is_relative_to(SRC) else ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str, path: Path) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself)."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = package_of(module, path).split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path):
    """(line, imported module, imported name or None) for every import in ``path``, function bodies included.

    Attribute reads of a private name on a name bound to a module (``import tunesmith.features as F`` then
    ``F._helper``) count as importing that name.
    """
    module = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bound[a.asname] = a.name
                yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for a in node.names:
                bound[a.asname or a.name] = f"{target}.{a.name}"
                yield node.lineno, target, a.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and _is_module(bound[node.value.id]) and _private(node.attr)):
            yield node.lineno, bound[node.value.id], node.attr


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module or package of this tree (``src/`` or the repository root)."""
    rel = Path(*dotted.split("."))
    return any((base / rel).is_dir() or (base / rel).with_suffix(".py").is_file() for base in (SRC, ROOT))


def private_owner(target: str, name: str | None) -> str | None:
    """The package whose private is reached, or None when public.

    ``tunesmith.x._m`` -> ``tunesmith.x``; ``_name`` from the package ``tunesmith.x`` -> ``tunesmith.x``;
    ``_name`` from the module ``tunesmith.x.m`` -> ``tunesmith.x`` (its package's modules may share it);
    ``_name`` from a top-level module such as ``tunesmith.features`` -> that module only (the root package
    holds the whole library, so it is no boundary).
    """
    parts = target.split(".")
    for i, p in enumerate(parts):
        if _private(p):
            return ".".join(parts[:i])
    if _private(name):
        rel = Path(*parts)
        is_package = any((base / rel).is_dir() for base in (SRC, ROOT))
        parent = target.rpartition(".")[0]
        return target if is_package or "." not in parent else parent
    return None


def source_files(*folders: str) -> list[Path]:
    out: list[Path] = []
    for f in folders:
        out += sorted((ROOT / f).rglob("*.py")) if (ROOT / f).is_dir() else []
    return out


def layer_violations(files: list[Path]) -> list[str]:
    bad = []
    for path in files:
        module = module_name(path)
        parts = module.split(".")
        in_lib = parts[0] == "tunesmith" and (len(parts) < 2 or parts[1] not in ADAPTERS)
        base_layer = in_lib and (len(parts) < 2 or parts[1] not in MODEL_PACKAGES)
        for line, target, name in imports(path):
            full = f"{target}.{name}" if name else target
            tparts = full.split(".")
            where = f"{path.relative_to(ROOT)}:{line}"
            if in_lib and tparts[0] == "tunesmith" and len(tparts) > 1 and tparts[1] in ADAPTERS:
                bad.append(f"{where}: library imports the adapter {full}")
            if base_layer and tparts[0] == "tunesmith" and len(tparts) > 1 and tparts[1] in MODEL_PACKAGES:
                bad.append(f"{where}: base layer imports the model package {full}")
            owner = private_owner(target, name)
            if owner is not None and owner.split(".")[0] in ("tunesmith", "benchmarks", "tests", "scripts"):
                mine = package_of(module, path)
                if not (mine == owner or mine.startswith(owner + ".")):
                    bad.append(f"{where}: imports the private {full} of {owner}")
    return bad


def print_calls(files: list[Path]) -> list[str]:
    bad = []
    for path in files:
        parts = module_name(path).split(".")
        if len(parts) > 1 and parts[1] in ADAPTERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: the library prints (log or return it)")
    return bad


def scripts_imports(files: list[Path]) -> list[str]:
    script_modules = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    bad = []
    for path in files:
        where = path.relative_to(ROOT)
        for line, target, _ in imports(path):
            if target.split(".")[0] in script_modules or target.split(".")[0] == "scripts":
                bad.append(f"{where}:{line}: imports {target} from scripts/")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("insert", "append") and "sys.path" in ast.unparse(node.func.value)
                    and "scripts" in ast.unparse(node)):
                bad.append(f"{where}:{node.lineno}: puts scripts/ on sys.path")
    return bad


# -------------------------------------------------------------------- the checker can fail (on made-up code)
def test_the_checks_catch_each_kind_of_leak(tmp_path, monkeypatch):
    me = sys.modules[__name__]
    fake = tmp_path / "src" / "tunesmith"
    (fake / "compose").mkdir(parents=True)
    (fake / "cli").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "scripts" / "make_stuff.py").write_text("X = 1\n")
    (fake / "compose" / "score.py").write_text("def f():\n    from tunesmith.cli.common import run_batch\n"
                                               "    print('hi')\n")
    (fake / "notes.py").write_text("from tunesmith.compose import model\n")
    (fake / "cli" / "cmd_x.py").write_text("from tunesmith.transcribe import _analyse_file\n"
                                           "from ..compose.data import _parse\nfrom . import _own_ok\n"
                                           "import tunesmith.compose.score as S\nS._attr_read\n")
    (fake / "compose" / "data.py").write_text("X = 1\n")
    (fake / "compose" / "model.py").write_text("from tunesmith.compose.data import _sibling_ok\n")
    (fake / "transcribe").mkdir()
    (tmp_path / "benchmarks" / "b.py").write_text(
        "import sys\nsys.path.insert(0, str(ROOT / 'scripts'))\nfrom make_stuff import X\n")
    monkeypatch.setattr(me, "ROOT", tmp_path)
    monkeypatch.setattr(me, "SRC", tmp_path / "src")
    lib = me.source_files("src")
    found = "\n".join(me.layer_violations(lib) + me.print_calls(lib)
                      + me.scripts_imports(me.source_files("benchmarks")))
    for needle in ("library imports the adapter tunesmith.cli.common.run_batch",
                   "base layer imports the model package tunesmith.compose.model",
                   "private tunesmith.transcribe._analyse_file", "private tunesmith.compose.data._parse",
                   "cmd_x.py:5: imports the private tunesmith.compose.score._attr_read",
                   "score.py:3: the library prints", "b.py:2: puts scripts/ on sys.path",
                   "b.py:3: imports make_stuff from scripts/"):
        assert needle in found, (needle, found)
    assert "_own_ok" not in found and "_sibling_ok" not in found


# -------------------------------------------------------------------- the real tree
def test_library_never_imports_an_adapter_a_higher_layer_or_a_private_name():
    bad = layer_violations(source_files("src", "benchmarks", "scripts"))
    assert not bad, "\n".join(bad)


def test_tests_use_only_public_names_of_other_packages():
    bad = layer_violations(source_files("tests"))
    assert not bad, "\n".join(bad)


def test_library_never_prints():
    bad = print_calls(source_files("src"))
    assert not bad, "\n".join(bad)


def test_tests_never_import_scripts():
    bad = scripts_imports(source_files("tests"))
    assert not bad, "\n".join(bad)


def test_benchmarks_never_import_scripts():
    bad = scripts_imports(source_files("benchmarks"))
    assert not bad, "\n".join(bad)
