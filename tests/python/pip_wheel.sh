#!/bin/bash
# The `splice` package as Python users install it, offline with Debian's python3-setuptools,
# python3-pybind11, python3-build and python3-venv: from a copy of the repository's files,
# `python3 -m build --no-isolation` makes an sdist and a wheel (built from the sdist, so the
# sdist is complete); the wheel goes into a fresh venv and passes tests/python there (examples
# included) and imports without pybind11 on the path; then `pip install --no-build-isolation .`
# of the source tree works as well and help(splice.splice) explains itself.
# Usage: pip_wheel.sh SOURCE_DIR PYTHON      (exit 77 = skipped)
SRC=$1 PY=$2
HARNESS_NAME=pip
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for mod in build venv setuptools pybind11 pytest; do
    "$PY" -c "import $mod" 2>/dev/null || { echo "SKIP: $PY has no $mod module"; exit 77; }
done
unset PYTHONPATH PIP_INDEX_URL
export PYTHONDONTWRITEBYTECODE=1 PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The same compiler cache as the CMake trees when ccache is there: the second build below
# (pip) then reuses the first's objects. NOHASHDIR: the two builds run in different dirs.
if [ -d /usr/lib/ccache ]; then export PATH=/usr/lib/ccache:$PATH CCACHE_NOHASHDIR=1; fi

# What a fresh clone has that the package needs (setup.py and MANIFEST.in name the rest).
mkdir -p "$T/src"
(cd "$SRC" && cp -r --parents pyproject.toml setup.py MANIFEST.in CMakeLists.txt LICENSE README.md include \
    src/splice src/sys src/python examples tests/python "$T/src/") || { fail "copy the sources"; finish; }
rm -rf "$T/src/src/python/splice/__pycache__" "$T/src/tests/python/__pycache__"

echo "== python3 -m build --no-isolation"
if ! (cd "$T" && "$PY" -m build --no-isolation --outdir "$T/dist" "$T/src") >"$T/build.log" 2>&1; then
    tail -30 "$T/build.log"; fail "python3 -m build"; finish
fi
version=$(sed -n 's/^project(splicefs VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
wheel=$(ls "$T"/dist/splicefs-"$version"-*.whl 2>/dev/null)
check "wheel splicefs-$version-*.whl built ($(ls "$T/dist" | tr '\n' ' '))" [ -f "$wheel" ]
check "sdist built" [ -f "$T/dist/splicefs-$version.tar.gz" ]
in_wheel=$("$PY" -m zipfile -l "$wheel" | awk '{ print $1 }')
for f in splice/__init__.py splice/__init__.pyi splice/py.typed; do
    check "wheel holds $f" grep -qxF "$f" <<<"$in_wheel"
done
check "wheel holds the compiled splice/_splice*.so" grep -qE '^splice/_splice\..*\.so$' <<<"$in_wheel"

echo "== the wheel in a fresh venv"
# System site-packages only for pytest; the venv's own site-packages (the wheel) come first.
"$PY" -m venv --system-site-packages "$T/venv" >"$T/venv.log" 2>&1 || { cat "$T/venv.log"; fail "venv"; finish; }
VPY=$T/venv/bin/python
check "pip install the wheel" eval '"$VPY" -m pip install -q "$wheel" >"$T/pip1.log" 2>&1 || { cat "$T/pip1.log"; false; }'
# shellcheck disable=SC2034 # read in the eval below
site=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
check "splice is imported from the venv" eval \
    '[ "$(cd "$T" && "$VPY" -c "import splice; print(splice.__file__)")" = "$site/splice/__init__.py" ]'
check "tests/python pass against the installed wheel" eval \
    '(cd "$T" && "$VPY" -m pytest -q -p no:cacheprovider "$T/src/tests/python") >"$T/pytest.log" 2>&1 || { tail -30 "$T/pytest.log"; false; }'
grep -E 'passed|failed' "$T/pytest.log" | tail -1
# -S: no site-packages but the venv's (PYTHONPATH), so no pybind11 either.
check "imports and copies without pybind11 on the path" eval '(cd "$T" && PYTHONPATH="$site" "$VPY" -S -c "
import importlib.util, splice
assert importlib.util.find_spec(\"pybind11\") is None
open(\"a\", \"wb\").write(b\"x\" * 100000)
assert splice.copy_file(\"a\", \"b\").bytes == 100000 and open(\"b\", \"rb\").read() == b\"x\" * 100000
")'

echo "== pip install --no-build-isolation . (the source tree)"
check "pip install --no-build-isolation ." eval \
    '(cd "$T/src" && "$VPY" -m pip install -q --no-build-isolation --force-reinstall .) >"$T/pip2.log" 2>&1 || { tail -30 "$T/pip2.log"; false; }'
# shellcheck disable=SC2034 # read in the eval below
help=$(cd "$T" && "$VPY" -c 'import splice; help(splice.splice)' 2>&1)
check "help(splice.splice) explains offset None, 0 at EOF, flags" eval \
    'grep -q "^splice(out, in_, offset, nbytes, flags=0)" <<<"$help" && grep -q "offset -- None" <<<"$help" &&
     grep -q "0 at end of file" <<<"$help" && grep -q "SPLICE_F_NONBLOCK" <<<"$help"'
check "version is CMakeLists.txt's ($version)" eval \
    '[ "$("$VPY" -m pip show splicefs | sed -n "s/^Version: //p")" = "$version" ] &&
     [ "$(cd "$T" && "$VPY" -c "import splice; print(splice.__version__)")" = "$version" ]'
finish
