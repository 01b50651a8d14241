"""Pools of Faker values and the fast composition of identities from them.

Calling Faker once per patron field is too slow for tens of thousands of
patrons, so a few thousand values are drawn from a seeded ``Faker("en_US")``
once (weighted as Faker weights them) and combined with numpy. Every value
is synthetic: names are Faker's, addresses are Faker street and town names
with random house numbers, e-mail addresses are on the reserved
``example.com/.org/.net`` domains, phone numbers are random digits in North
American shape (as Faker's own ``phone_number`` is).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker

from .generate_util import objects

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
LIBRARY_DOMAIN = "library.example.org"
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@dataclass(frozen=True)
class Pools:
    female: np.ndarray
    male: np.ndarray
    surnames: np.ndarray
    streets: np.ndarray
    towns: np.ndarray
    zipcodes: list[np.ndarray]  # per town
    state: str
    area_codes: np.ndarray
    words: np.ndarray

    @classmethod
    def draw(cls, seed: int, *, towns: int = 12) -> "Pools":
        """The pools for ``seed`` (drawn once per process: the arrays are only ever read)."""
        return _draw(cls, int(seed), towns)

    @classmethod
    def _draw(cls, seed: int, towns: int) -> "Pools":
        fake = Faker("en_US")
        fake.seed_instance(seed)
        female = objects([fake.first_name_female() for _ in range(1500)])
        male = objects([fake.first_name_male() for _ in range(1500)])
        surnames = objects([fake.last_name() for _ in range(3000)])
        streets = objects([fake.street_name() for _ in range(1500)])
        town_names: list[str] = []
        while len(town_names) < towns:
            name = fake.city()
            if name not in town_names:
                town_names.append(name)
        state = fake.state_abbr(include_territories=False)
        zipcodes = [objects(sorted({fake.zipcode_in_state(state) for _ in range(3)})) for _ in town_names]
        area_codes: list[int] = []
        while len(area_codes) < 3:
            code = int(fake.numerify("%##"))
            if code >= 200 and code % 100 != 11 and code not in area_codes and str(code)[1] != "9":
                area_codes.append(code)
        words: list[str] = []
        for word in fake.words(nb=4000):
            if len(word) > 2 and word not in words:
                words.append(word)
        return cls(female=female, male=male, surnames=surnames, streets=streets,
                   towns=objects(town_names), zipcodes=zipcodes, state=state,
                   area_codes=np.array(area_codes), words=objects(words))


@lru_cache(maxsize=4)
def _draw(cls: type, seed: int, towns: int) -> Pools:
    pools = cls._draw(seed, towns)
    for value in vars(pools).values():
        for array in value if isinstance(value, list) else [value]:
            if isinstance(array, np.ndarray):
                array.flags.writeable = False  # shared between libraries drawn with this seed
    return pools


class Identities:
    """Composes names, addresses, phones and e-mails for ``n`` people at once."""

    def __init__(self, pools: Pools, rng: np.random.Generator) -> None:
        self.pools = pools
        self.rng = rng

    def sexes(self, n: int) -> np.ndarray:
        return np.where(self.rng.random(n) < 0.52, "F", "M").astype(object)

    def first_names(self, sex: np.ndarray) -> np.ndarray:
        rng, pools = self.rng, self.pools
        female = pools.female[rng.integers(0, len(pools.female), len(sex))]
        male = pools.male[rng.integers(0, len(pools.male), len(sex))]
        return np.where(sex == "F", female, male)

    def surnames(self, n: int) -> np.ndarray:
        return self.pools.surnames[self.rng.integers(0, len(self.pools.surnames), n)]

    def phones(self, n: int) -> np.ndarray:
        rng = self.rng
        area = self.pools.area_codes[rng.integers(0, len(self.pools.area_codes), n)]
        exchange = rng.integers(200, 1000, n)
        exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)
        line = rng.integers(0, 10_000, n)
        style = rng.integers(0, 3, n)
        out = []
        for a, e, ln, s in zip(area.tolist(), exchange.tolist(), line.tolist(), style.tolist()):
            if s == 0:
                out.append(f"({a}) {e}-{ln:04d}")
            elif s == 1:
                out.append(f"{a}-{e}-{ln:04d}")
            else:
                out.append(f"{a}.{e}.{ln:04d}")
        return objects(out)

    def emails(self, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        rng = self.rng
        n = len(first)
        number = rng.integers(1, 100, n)
        numbered = rng.random(n) < 0.5
        domain = rng.integers(0, len(EMAIL_DOMAINS), n)
        style = rng.integers(0, 3, n)
        out = []
        for f, ln, num, has_num, d, s in zip(first.tolist(), last.tolist(), number.tolist(),
                                             numbered.tolist(), domain.tolist(), style.tolist()):
            f, ln = _NOT_ALNUM.sub("", (f or "x").lower()) or "x", _NOT_ALNUM.sub("", (ln or "x").lower()) or "x"
            local = f"{f}.{ln}" if s == 0 else (f"{f[0]}{ln}" if s == 1 else f"{f}{ln[0]}")
            out.append(f"{local}{num if has_num else ''}@{EMAIL_DOMAINS[d]}")
        return objects(out)

    def addresses(self, n: int, town_weights: np.ndarray) -> dict[str, np.ndarray]:
        """Street address, optional second line, town, state and zip code."""
        rng, pools = self.rng, self.pools
        number = rng.integers(1, 10_000, n)
        street = pools.streets[rng.integers(0, len(pools.streets), n)]
        address = objects([f"{num} {s}" for num, s in zip(number.tolist(), street.tolist())])
        apt = rng.random(n) < 0.12
        unit = rng.integers(1, 400, n)
        address2 = objects([f"Apt. {u}" if a else None for a, u in zip(apt.tolist(), unit.tolist())])
        town = rng.choice(len(pools.towns), size=n, p=town_weights / town_weights.sum())
        zip_pick = rng.integers(0, 3, n)
        zipcode = objects([pools.zipcodes[t][z % len(pools.zipcodes[t])]
                           for t, z in zip(town.tolist(), zip_pick.tolist())])
        state = np.empty(n, dtype=object)
        state[:] = pools.state
        return {"address": address, "address2": address2, "city": pools.towns[town],
                "state": state, "zipcode": zipcode, "town": town}

    def passwords(self, n: int) -> np.ndarray:
        """bcrypt-shaped hashes of nothing in particular."""
        alphabet = np.array(list("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
        raw = alphabet[self.rng.integers(0, len(alphabet), size=(n, 53))]
        return objects(["$2a$08$" + "".join(row) for row in raw.tolist()])

    def titles(self, n: int, words: int = 3) -> np.ndarray:
        """Book-title-like phrases of 1..``words``+1 capitalised words."""
        rng, pool = self.rng, self.pools.words
        length = rng.integers(1, words + 2, n)
        picks = pool[rng.integers(0, len(pool), size=(n, words + 1))].tolist()
        joiner = ("The ", "A ", "", "", "")
        lead = rng.integers(0, len(joiner), n).tolist()
        return objects([joiner[j] + " ".join(w.capitalize() for w in row[:k])
                        for row, k, j in zip(picks, length.tolist(), lead)])

    def phrases(self, n: int, lo: int = 1, hi: int = 4) -> list[str]:
        rng, pool = self.rng, self.pools.words
        length = rng.integers(lo, hi + 1, n)
        picks = pool[rng.integers(0, len(pool), size=(n, hi))].tolist()
        return [" ".join(row[:k]) for row, k in zip(picks, length.tolist())]
