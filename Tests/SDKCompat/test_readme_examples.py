"""The README's HTTP-door examples, run as a user would run them, so that they cannot rot: each code
block after an `<!-- example: http-NAME -->` line, with `127.0.0.1:7402` replaced by the address of
a `flexd --upstream sim` started for the test and the provider keys in the environment. A print
line ending in a `# WORD NUMBER` comment must print that word and a positive integer (the numbers
are the embedded flexsim's on the day the README was written; its prices follow the date)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = os.path.join(ROOT, "README.md")
KEYS = {"OPENAI_API_KEY": "sk-readme", "ANTHROPIC_API_KEY": "sk-ant-readme", "GEMINI_API_KEY": "AIzaReadme"}


def examples():
    """(name, language, code) for every `<!-- example: http-* -->` block of the README."""
    text = open(README).read()
    pattern = re.compile(r"<!-- example: (http-[\w-]+) -->\n```(\w+)\n(.*?)\n```", re.S)
    return [match.groups() for match in pattern.finditer(text)]


def test_the_readme_shows_an_example_per_sdk_and_curl():
    assert sorted(name for name, _, _ in examples()) == ["http-anthropic", "http-curl", "http-gemini", "http-openai"]


@pytest.mark.parametrize("name,language,code", examples(), ids=[name for name, _, _ in examples()])
def test_the_readme_example_runs_against_flexd(door, name, language, code):
    code = code.replace("127.0.0.1:7402", f"127.0.0.1:{door.port}")
    argv = [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]
    result = subprocess.run(argv, env={**os.environ, **KEYS}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    output = result.stdout.strip().splitlines()
    assert output, f"{name} printed nothing"
    for word in (m.group(1) for m in re.finditer(r"^print\(.*\)  # (\w+) \d+$", code, re.M)):
        assert any(re.fullmatch(rf"{word} [1-9]\d*", line) for line in output), (word, output)
    if name == "http-curl":
        assert "data: [DONE]" in output
        assert output[-1].startswith(": flexd-savings {") and '"tier_served":"flex"' in output[-1]
    if name == "http-anthropic":
        assert len(result.stdout) > 20
