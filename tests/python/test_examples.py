"""examples/*.py are the README's two classic examples, byte for byte, and run unchanged."""
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def readme_examples():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The two classic Python examples", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run(script, cwd):
    return subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=cwd, capture_output=True, text=True,
                          check=True, timeout=60)


def test_scripts_are_the_readme_examples():
    assert readme_examples() == [(EXAMPLES / "copy_file.py").read_text(), (EXAMPLES / "offsets.py").read_text()]


def test_copy_file_example(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / "read.txt").write_bytes(data)
    assert run("copy_file.py", tmp_path).stdout == f"{len(data)} bytes copied\n"
    assert (tmp_path / "write.txt").read_bytes() == data


def test_offsets_example(tmp_path):
    data = b"The quick brown fox jumps over the lazy dog. 12345"
    assert len(data) == 50
    (tmp_path / "read.txt").write_bytes(data)
    assert run("offsets.py", tmp_path).stdout.split() == ["50", "0", "40", "20", "20", "50"]
    assert (tmp_path / "write.txt").read_bytes() == data + data[10:] + data[10:30] + data[:20] + data
