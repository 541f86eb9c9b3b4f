"""The fast address-list parser gives what the email package's parser gives (classify and the
poller read every From, To and Cc through it)."""

from __future__ import annotations

import random
from email.utils import getaddresses

import pytest

from sequencer.core.addresses import address_pairs

CASES = [
    "lead@acme.example",
    "Ann Lee <ann.lee+x@mail.acme-corp.example>",
    "News<news1@lists.example>, bob@b.example",
    "  Sam  Rep \t<sam@ours.example>  ",
    "<only@route.example>",
    '"Lee, Ann" <ann@acme.example>',  # quoted: the email package's parser
    "=?utf-8?q?J=C3=B6rg?= <j@acme.example>",
    "Ann (sales) <ann@acme.example>",
    "a@b, ",
    "",
    "no address at all",
    "J. Smith <j@acme.example>",
    "bad@@acme.example",
]


@pytest.mark.parametrize("value", CASES)
def test_same_pairs_as_the_email_package(value: str) -> None:
    assert address_pairs([value]) == getaddresses([value])


def test_several_values_and_random_lists() -> None:
    assert address_pairs(["a@b.example", "C D <c@d.example>"]) == getaddresses(
        ["a@b.example", "C D <c@d.example>"]
    )
    pieces = ["a", "Bob", "b.c", "x+y", "-", ".", "@", "<", ">", " ", "\t", ",", '"', "(", "ex.com", "é"]
    rng = random.Random(15)
    for _ in range(5000):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert address_pairs([value]) == getaddresses([value]), value
