"""What the builders of Koha's smaller patron tables share (see :mod:`.generate_more`).

:class:`Extras` bundles the library's models (patrons, catalogue, loans,
holds) with the release line being built, and draws *events*: who did
something and when. Every table gets its own random stream, derived from
the seed and the table's name, so that a table a line lacks does not shift
any other table's rows.

Events are spread the way retention needs them: most fall anywhere in the
acting patron's active window (enrolment to expiry or deletion), some in
the first months of the history (older than any plausible retention
period), some in the last few days; the first rows always belong to the
patrons every policy treats specially — one who keeps their history
(``privacy = 0``), one whose card has expired, a juvenile and a guarantor
(drawn anew for each table).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .generate_catalogue import BRANCH_CODES
from .generate_names import Identities, Pools
from .generate_people import KIND_MEMBER, People
from .generate_util import DAY, Calendar, Columns, Formatter, objects

BRANCHES = objects(BRANCH_CODES)


@dataclass
class Extras:
    """The models and the line; ``line`` answers which tables and columns exist and their ON DELETE."""

    seed: int
    cal: Calendar
    fmt: Formatter
    pools: Pools
    people: People
    cat: object
    loans: object
    holds: object
    line: object

    def __post_init__(self) -> None:
        p, D = self.people, self.cal.days
        self.member = p.kind == KIND_MEMBER
        self.alive = ~p.deleted
        self.active = self.member & self.alive & (p.win_hi >= D)
        self.expired = self.member & self.alive & (p.expiry < D - 1)
        self.staff = p.staff_idx
        guarantors = np.zeros(p.n, dtype=bool)
        guarantors[p.rel_guarantor] = True
        self.guarantors = guarantors
        window = p.win_hi > p.win_lo
        #: privacy 0, an expired card, a juvenile, a guarantor: one of each in every table's events
        self.special = [self.member & self.alive & (p.privacy == 0) & window, self.expired & window,
                        self.member & self.alive & (p.category == "J") & window, self.alive & guarantors & window]
        self.phone = np.where(p.mobile != None, p.mobile, p.phone)  # noqa: E711
        self.name = objects([f"{f} {s}" if f else s for f, s in zip(p.firstname.tolist(), p.surname.tolist())])
        biblio_weight = np.bincount(self.cat.biblio, weights=self.cat.weight, minlength=self.cat.n_biblio)
        self.biblio_weight = biblio_weight / biblio_weight.sum()

    # -- randomness -----------------------------------------------------------------------------
    def rng(self, table: str) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([int(self.seed), zlib.crc32(table.encode())]))

    def ids(self, rng: np.random.Generator) -> Identities:
        return Identities(self.pools, rng)

    def count(self, share: float, minimum: int = 6) -> int:
        """Rows for a table holding ``share`` rows per living member (at least ``minimum``)."""
        return max(minimum, int(round(int((self.member & self.alive).sum()) * share)))

    # -- who and when ---------------------------------------------------------------------------
    def who_may(self, table: str, column: str, *, members_only: bool = True) -> np.ndarray:
        """Patrons who may appear in ``table.column``: deleted ones only where the line's foreign key
        keeps their rows (ON DELETE SET NULL, or no foreign key)."""
        keeps = self.line.on_delete(table, column) in (None, "SET NULL")
        mask = self.member if members_only else np.ones(self.people.n, dtype=bool)
        mask = mask & (self.people.win_hi > self.people.win_lo)
        return mask if keeps else mask & self.alive

    def events(self, rng: np.random.Generator, n: int, mask: np.ndarray, *, recent: float = 0.1,
               old: float = 0.1, span: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (patron index, moment) pairs, sorted by moment (see the module docstring).

        ``span`` limits the days (from, to) — e.g. the last 60 days for things still in progress."""
        p, cal, D = self.people, self.cal, self.cal.days
        if n <= 0 or not mask.any():
            return np.empty(0, np.int64), np.empty(0, np.int64)
        weight = np.where(mask, p.weight + 1e-3 * (p.win_hi - p.win_lo), 0.0)
        who = rng.choice(p.n, size=n, p=weight / weight.sum())
        lo, hi = p.win_lo[who].copy(), p.win_hi[who].copy()
        k_recent = k_old = 0
        if span is None:
            k_recent = max(1, int(round(n * recent))) if recent and n >= 2 else 0
            k_old = max(1, int(round(n * old))) if old and n >= 3 else 0
            live = mask & (p.win_hi >= D) & ~p.deleted
            early = mask & (p.win_lo <= 30)
            if k_recent and live.any():
                sel = slice(n - k_recent, n)
                who[sel] = rng.choice(np.flatnonzero(live), size=k_recent)
                lo[sel], hi[sel] = D - 5, D
            if k_old and early.any():
                sel = slice(0, k_old)
                who[sel] = rng.choice(np.flatnonzero(early), size=k_old)
                lo[sel], hi[sel] = np.maximum(p.win_lo[who[sel]], 0), np.minimum(p.win_hi[who[sel]], 90)
        else:
            lo = np.maximum(lo, span[0])
            hi = np.minimum(hi, span[1])
        firsts = [int(rng.choice(np.flatnonzero(group & mask))) for group in self.special if (group & mask).any()]
        firsts = firsts[: max(0, n - k_old - k_recent)]
        for k, s in enumerate(firsts, start=k_old):  # between the oldest and the most recent rows
            who[k] = s
            lo[k], hi[k] = p.win_lo[s], p.win_hi[s]
            if span is not None:
                lo[k], hi[k] = max(lo[k], span[0]), min(hi[k], span[1])
        hi = np.maximum(hi, lo + 1)
        day = cal.draw_days(rng, lo, hi)
        t = day * DAY + cal.opening_seconds(rng, n)
        t = np.where(p.deleted[who], np.minimum(t, p.deleted_t[who] - 60), t)
        t = np.minimum(t, cal.end - 1)
        order = np.argsort(t, kind="stable")
        return who[order], t[order]

    def staff_pick(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Staff borrowernumbers (index + 1) for ``n`` rows."""
        return self.staff[rng.integers(0, len(self.staff), n)] + 1

    def biblios(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Biblio indexes, popular titles likelier."""
        return rng.choice(self.cat.n_biblio, size=n, p=self.biblio_weight)

    def link(self, who: np.ndarray) -> np.ndarray:
        """borrowernumbers for ``who``, NULL where the patron was deleted (ON DELETE SET NULL)."""
        out = (who + 1).astype(object)
        out[self.people.deleted[who]] = None
        return out

    def mention(self, rng: np.random.Generator, who: np.ndarray, templates: list[str], share: float = 0.4,
                plain: list[str] | None = None) -> np.ndarray:
        """Free text: about ``share`` of rows name the patron ({name}, {first}, {phone}, {card})."""
        p = self.people
        n = len(who)
        names = rng.random(n) < share
        if n:
            names[n // 2] = True  # every table has at least one row naming its patron
        pick = rng.integers(0, len(templates), n)
        other = rng.integers(0, len(plain or [""]), n)
        out = np.empty(n, dtype=object)
        for i, (b, named, t, o) in enumerate(zip(who.tolist(), names.tolist(), pick.tolist(), other.tolist())):
            if named:
                out[i] = templates[t].format(name=self.name[b], first=p.firstname[b] or p.surname[b],
                                             phone=self.phone[b] or "no phone on file", card=p.cardnumber[b])
            else:
                out[i] = (plain or [None])[o]
        return out

    def moments(self, t: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
        return self.fmt.moments(np.minimum(t, self.cal.end - 1), null=null)

    def days(self, day: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
        return self.fmt.days(day, null=null)


def table(name: str, /, **columns) -> Columns:
    """A builder's rows as :class:`Columns` (column name = keyword)."""
    return Columns(name, list(columns), list(columns.values()))


def sequence(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)
