"""Builds the `splice` package: splice/ (pure Python, type stub, py.typed) plus the compiled
splice._splice from the zero-copy library's C++ sources. The version is CMakeLists.txt's
project VERSION, the project's one place for it. Metadata lives in pyproject.toml."""
import pathlib
import re

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
from setuptools import setup

ROOT = pathlib.Path(__file__).parent
# setuptools wants paths relative to this directory.
LIBRARY_SOURCES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "src/splice").glob("*.cpp"))


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"^project\(splicefs\s+VERSION\s+([0-9][0-9.]*)", text, re.M)
    if not match:
        raise RuntimeError("no `project(splicefs VERSION x.y.z` line in CMakeLists.txt")
    return match.group(1)


VERSION = project_version()
ParallelCompile("NPY_NUM_BUILD_JOBS").install()  # the library's sources compile in parallel

setup(
    version=VERSION,
    packages=["splice"],
    package_dir={"splice": "src/python/splice"},
    package_data={"splice": ["py.typed", "__init__.pyi"]},
    ext_modules=[
        Pybind11Extension(
            "splice._splice",
            ["src/python/splice_module.cpp", *LIBRARY_SOURCES],
            include_dirs=["include"],
            define_macros=[("SPLICEFS_VERSION", f'"{VERSION}"')],
            cxx_std=20,
        )
    ],
    zip_safe=False,
    # Not build/: that is the CMake tree's name.
    options={"build": {"build_base": "build-python"}},
)
