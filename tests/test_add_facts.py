"""``Deltas.add_facts`` — the retention run's hot loop — against a plain reading of what it must compute."""
from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from patronguard.retention import sketch
from patronguard.retention.ledger import Deltas

KEY = b"k" * 32


def _rows(seed: int, dates: bool) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    for _ in range(3000):
        day = dt.date(2024, rng.randint(1, 3), rng.randint(1, 28))
        out.append((rng.choice(["issue", "renew", "return"]), day if dates else day.isoformat(),
                    rng.choice(["MAIN", "NORTH"]), rng.choice(["BK", "DVD"]), "?", rng.choice(["GEN", "CHILD", "?"]),
                    rng.choice(["PT", "J"]),
                    rng.choice(["0-12", "25-44", "?"]), rng.randint(1, 400),
                    rng.choice([1, 1, 1, 2]), rng.choice([0, 0, 1, 3, None]),
                    rng.choice([0, None, Decimal("1.50"), Decimal("0.25")])))
    return out


def _expected(rows):
    facts, cells = {}, defaultdict(set)
    for r in rows:
        day = r[1] if isinstance(r[1], str) else r[1].isoformat()
        dims = (r[0], day, *r[2:8])
        f = facts.setdefault(dims, [0, 0, 0])
        f[0] += r[9]
        f[1] += r[10] or 0
        f[2] += r[11] or 0
        cells[(day[:7], r[2], r[6], r[7])].add(r[8])
    circulation = sorted(("loans", *k, v[0], v[1], str(v[2])) for k, v in facts.items())
    sketches = {("loans", *c): sketch.cell_hashes(KEY, ("loans", *c), p) for c, p in cells.items()}
    return circulation, sketches, sum(r[9] for r in rows)


def test_add_facts_sums_cells_and_collects_patrons_exactly():
    for dates in (False, True):
        rows = _rows(7, dates)
        deltas = Deltas()
        total = deltas.add_facts("loans", rows, KEY)
        circulation, sketches, events = _expected(rows)
        assert total == events
        assert sorted(deltas.circulation) == circulation
        assert deltas.cells == sketches


def test_add_facts_in_batches_is_the_same_as_in_one():
    rows = _rows(8, False)
    once, batched = Deltas(), Deltas()
    once.add_facts("loans", rows, KEY)
    for start in range(0, len(rows), 700):
        batched.add_facts("loans", rows[start:start + 700], KEY)
    assert batched.cells == once.cells  # sketches merge to what one pass gives
    totals = defaultdict(lambda: [0, 0, Decimal(0)])
    for fact in batched.circulation:
        t = totals[fact[1:9]]
        t[0] += fact[9]
        t[1] += fact[10]
        t[2] += Decimal(fact[11])
    assert sorted((("loans", *k, v[0], v[1], v[2]) for k, v in totals.items())) == \
        sorted(("loans", *f[1:11], Decimal(f[11])) for f in once.circulation)


def test_add_facts_of_nothing_adds_nothing():
    deltas = Deltas()
    assert deltas.add_facts("loans", [], KEY) == 0
    assert deltas.circulation == [] and deltas.cells == {}
