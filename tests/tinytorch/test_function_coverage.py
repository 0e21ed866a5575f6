"""Every `Function` in the library has a gradient check, and every check passes.

The registry is `CASES` in gradcheck_cases.py. This file imports every module of tinytorch,
lists every Function subclass, and fails naming any class that has no case: a new op cannot
land without a gradient check. (gpt defines no Function: every fused kernel lives in
tinytorch.functional beside its composed twin; tests/gpt/test_model.py checks that.)
"""
import importlib
import pkgutil

import pytest

import tinytorch as tt

from gradcheck_cases import CASES

# Packages whose Functions must be checked.
PACKAGES = ("tinytorch",)


def import_every_module(package_name):
    """Import the package and all its submodules (so all their classes exist). `__main__`
    modules are skipped: importing one would run a command line."""
    package = importlib.import_module(package_name)
    for module in pkgutil.walk_packages(package.__path__, prefix=package_name + "."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)


def all_subclasses(cls):
    """Subclasses of `cls`, of those subclasses, and so on."""
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(all_subclasses(sub))
    return found


def library_functions():
    """Every Function subclass defined in PACKAGES (not the ones tests define for themselves)."""
    for package_name in PACKAGES:
        import_every_module(package_name)
    classes = {cls for cls in all_subclasses(tt.Function)
               if cls.__module__.split(".")[0] in PACKAGES}
    return sorted(classes, key=full_name)


def full_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_function_has_a_gradcheck_case():
    missing = [full_name(cls) for cls in library_functions() if cls not in CASES]
    assert not missing, ("these Functions have no gradient check; add a case to CASES in "
                         "tests/tinytorch/gradcheck_cases.py: " + ", ".join(missing))


def test_the_registry_finds_the_library_functions():
    """A guard on the guard: the search above must see the ops we know exist."""
    found = set(library_functions())
    assert {tt.ops.Add, tt.ops.MatMul, tt.functional.LayerNorm} <= found
    assert tt.Function not in found


@pytest.mark.parametrize("function_class", list(CASES), ids=full_name)
def test_gradcheck_case(function_class):
    used = CASES[function_class]()
    assert function_class in used, (
        f"the case registered for {full_name(function_class)} never builds a "
        f"{function_class.__name__} node (it used {sorted(c.__name__ for c in used)})")
