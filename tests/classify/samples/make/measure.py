"""Score the classifier on every sample against the tests' expectations, in the issue's terms.

PYTHONPATH=. python tests/classify/samples/make/measure.py
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sequencer.classify import classify
from tests.classify import test_classify, test_formats, test_real_servers, test_wild

SAMPLES = Path(__file__).resolve().parent.parent


def expectations() -> list[tuple[Path, str, tuple[str, ...]]]:
    rows = [(SAMPLES / r[0], r[1], r[3]) for r in test_classify.TABLE]
    rows += [(SAMPLES / name, r[0], r[2]) for name, r in test_formats.TABLE.items()]
    for path in test_real_servers.REAL:
        kind, _, recipients, _ = test_real_servers.EXPECTED[test_real_servers._scenario(path)[1]]
        rows.append((path, kind, recipients))
    rows += [(path, "auto_reply", ()) for path in test_real_servers.SIEVE]
    rows += [(SAMPLES / name, r[0], r[2]) for name, r in test_wild.WILD.items()]
    return rows


def main() -> None:
    tally: Counter[str] = Counter()
    wrong: list[str] = []
    for path, kind, recipients in expectations():
        verdict = classify(path.read_bytes(), own_addresses={"sam@rep.example"})
        tally[f"{kind} total"] += 1
        if verdict.kind == kind:
            tally[f"{kind} right"] += 1
        else:
            wrong.append(f"{path.name}: expected {kind}, got {verdict.kind} ({verdict.reason})")
        if kind == "bounce":
            tally["bounce recipient right"] += verdict.kind == "bounce" and set(recipients) <= set(
                verdict.failed
            )
            tally["bounce called reply/auto_reply"] += verdict.kind in ("reply", "auto_reply")
    for kind in ("bounce", "complaint", "auto_reply", "reply", "unsubscribe", "unrelated"):
        total = tally[f"{kind} total"]
        if total:
            print(
                f"{kind:12} {tally[f'{kind} right']}/{total} ({100 * tally[f'{kind} right'] / total:.0f}%)"
            )
    bounces = tally["bounce total"]
    print(f"bounces with the right recipient: {tally['bounce recipient right']}/{bounces}")
    print(f"bounces called reply or auto-reply: {tally['bounce called reply/auto_reply']}")
    for line in wrong:
        print("WRONG", line)


if __name__ == "__main__":
    main()
