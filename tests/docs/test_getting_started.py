"""README's "Getting started" block, run verbatim on a copy of this checkout.

A new user pastes these lines one after the other. The test runs them in one bash
session: it creates a fresh venv and pip-installs the package (from pip's cache where
it has one), and ``$EDITOR`` is a script that does what the user would do by hand:
point the mailbox at the test servers. The only other change is the password, which the
README leaves as ``...``. It fails if a line does not work as written, e.g. a
``sequencer`` that is not on PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from tests.servers import PASSWORD, MailEnv

ROOT = Path(__file__).resolve().parents[2]
EDITOR = """\
import sys, yaml
path = sys.argv[1]
data = yaml.safe_load(open(path))
box = data["mailboxes"][0]
box["address"] = {address!r}
box["smtp"] = {{"host": "127.0.0.1", "port": {smtp}, "security": "none"}}
box["imap"] = {{"host": "127.0.0.1", "port": {imap}, "security": "none"}}
yaml.safe_dump(data, open(path, "w"), sort_keys=False)
"""


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under '## {heading}'"
    return match.group(1)


def copy_checkout(dest: Path) -> None:
    """The tracked files, as a fresh clone has them (no .venv, no build output)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    buf = BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in filter(None, files):
            path = ROOT / name.decode()
            if path.is_file():
                tar.add(path, arcname=name.decode())
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        tar.extractall(dest, filter="data")


@pytest.mark.timeout(600)
def test_getting_started_block_runs_as_written(tmp_path: Path, mail: MailEnv) -> None:
    block = readme_block("Getting started with your own mailbox")
    assert "SEQUENCER_MAIL_PASSWORD=..." in block
    script = block.replace("SEQUENCER_MAIL_PASSWORD=...", f"SEQUENCER_MAIL_PASSWORD={PASSWORD}")
    checkout = tmp_path / "checkout"
    copy_checkout(checkout)
    address = mail.new_address("starter")
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR.format(address=address, smtp=mail.smtp_port, imap=mail.imap_port))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["EDITOR"] = f"{sys.executable} {editor}"
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "ok" in done.stdout
    assert (checkout / "my-pipeline" / "sequencer.yaml").exists()
