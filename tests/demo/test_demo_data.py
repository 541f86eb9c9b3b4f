"""The demo's vendored sequence and templates never drift from the shipped ones.

The demo ships inside the package (sequences/ and templates/ are top-level in
the repo, not installed), so it carries its own copy; a newcomer must see the
same quote follow-up the README describes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "sequencer" / "demo" / "data"
VENDORED = sorted(
    p.relative_to(DEMO_DATA)
    for p in DEMO_DATA.rglob("*")
    if p.is_file() and "__pycache__" not in p.parts
)


def test_the_demo_carries_the_quote_sequence_and_all_its_templates() -> None:
    shipped_templates = sorted(p.name for p in (REPO / "templates" / "quote").iterdir())
    assert Path("sequences/quote-follow-up.yaml") in VENDORED
    assert (
        sorted(p.name for p in VENDORED if p.parts[:2] == ("templates", "quote"))
        == shipped_templates
    )


@pytest.mark.parametrize("relative", VENDORED, ids=str)
def test_vendored_copy_is_identical_to_the_shipped_file(relative: Path) -> None:
    shipped = REPO / relative
    assert shipped.exists(), f"{relative} is vendored for the demo but no longer shipped"
    assert (DEMO_DATA / relative).read_bytes() == shipped.read_bytes(), (
        f"sequencer/demo/data/{relative} differs from {relative}: copy it again "
        f"(cp {relative} sequencer/demo/data/{relative})"
    )
