"""The README's configuration reference must list every statement ferryd accepts."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_lists_every_server_statement():
    out = subprocess.run([os.environ["FERRYD"], "--help-config"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    statements = re.findall(r"^([A-Z_0-9]+) ", out, flags=re.M)
    assert len(statements) >= 20, out
    readme = (ROOT / "README.md").read_text()
    missing = [s for s in statements if f"| `{s}` |" not in readme]
    assert not missing, f"README configuration reference lacks: {missing}"


def test_readme_opens_with_the_two_commands_ci_uses():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "scripts/serve" in first_block and "scripts/test" in first_block
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
