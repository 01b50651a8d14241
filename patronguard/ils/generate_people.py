"""The library's patrons: who they are, when they joined, left or were deleted.

Index ``i`` of every array is the patron with borrowernumber ``i + 1``.
Layout: staff first (borrowernumber 1 is the administrator), then the
AnonymousPatron, then members (categories PT adult, J juvenile, SR senior).
A few percent of members are deleted: they live on in ``deletedborrowers``
(a full copy of their personal fields) and, as in Koha, their ids survive
in statistics, action_logs and search_history while ``old_issues`` /
``old_reserves`` / ``accountlines`` lose the link (``ON DELETE SET NULL``)
and rows with ``ON DELETE CASCADE`` foreign keys are gone.
"""
from __future__ import annotations

import numpy as np

from .generate_names import LIBRARY_DOMAIN, Identities
from .generate_util import DAY, Calendar, luhn_numbers, objects, pick

KIND_STAFF, KIND_ANON, KIND_MEMBER = 0, 1, 2
YEAR = 365
PRONOUNS = ("she/her", "he/him", "they/them")
CATEGORY_FACTOR = {"PT": 1.0, "J": 0.8, "SR": 1.0, "ST": 0.6, "ANON": 0.0}


class People:
    """Arrays describing every patron ever enrolled (see module docstring)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.borrowernumber = np.arange(1, n + 1, dtype=np.int64)


def build_people(n: int, cal: Calendar, ids: Identities, rng: np.random.Generator,
                 branch_codes: list[str], library_code: int) -> People:
    p = People(n)
    D = cal.days
    staff = max(2, int(round(n * 0.004)))
    members = n - staff - 1
    anon = staff  # the AnonymousPatron comes right after the staff
    p.staff_idx = np.arange(staff)
    p.anon_idx = anon
    kind = np.full(n, KIND_MEMBER, dtype=np.int8)
    kind[:staff] = KIND_STAFF
    kind[anon] = KIND_ANON
    p.kind = kind
    member = kind == KIND_MEMBER

    n_j, n_sr = int(members * 0.18), int(members * 0.12)
    member_cats = np.array(["J"] * n_j + ["SR"] * n_sr + ["PT"] * (members - n_j - n_sr), dtype=object)
    category = np.empty(n, dtype=object)
    category[:staff] = "ST"
    category[anon] = "ANON"
    category[staff + 1:] = member_cats[rng.permutation(members)]
    p.category = category
    juvenile = category == "J"
    adult_member = member & ((category == "PT") | (category == "SR"))

    # Identity.
    p.sex = ids.sexes(n)
    p.firstname = ids.first_names(p.sex)
    p.surname = ids.surnames(n)
    p.middle_name = np.where(rng.random(n) < 0.25, ids.first_names(p.sex), None)
    town_weights = np.array([8.0, 4, 4, 4] + [1.0] * (len(ids.pools.towns) - 4))
    addr = ids.addresses(n, town_weights)
    for key in ("address", "address2", "city", "state", "zipcode"):
        setattr(p, key, addr[key])
    p.phone = np.where(rng.random(n) < 0.92, ids.phones(n), None)
    p.mobile = np.where(rng.random(n) < 0.55, ids.phones(n), None)
    p.email = np.where(rng.random(n) < np.where(juvenile, 0.3, 0.88), ids.emails(p.firstname, p.surname), None)
    p.emailpro = np.full(n, None, dtype=object)
    p.emailpro[:staff] = objects([f"{f.lower()}.{s.lower()}@{LIBRARY_DOMAIN}".replace(" ", "").replace("'", "")
                                  for f, s in zip(p.firstname[:staff], p.surname[:staff])])
    p.smsalertnumber = np.where((rng.random(n) < 0.3) & (p.mobile != None),  # noqa: E711
                                objects([None if m is None else "".join(c for c in m if c.isdigit())
                                         for m in p.mobile]), None)

    # Dates (days since the history started; negative = before it).
    age = np.select([juvenile, category == "SR", category == "ST"],
                    [rng.integers(2 * YEAR + 1, 16 * YEAR - 1, n), rng.integers(65 * YEAR, 91 * YEAR, n),
                     rng.integers(21 * YEAR, 66 * YEAR, n)],
                    rng.integers(18 * YEAR, 65 * YEAR, n))
    p.dob = (D - 1) - age
    lo = np.full(n, -6 * YEAR)
    lo = np.where(juvenile, np.maximum(lo, p.dob + 2 * YEAR), lo)
    hi = np.where(kind == KIND_STAFF, D - 60, D - 1)
    hi = np.maximum(hi, lo + 1)
    p.enrolled = np.minimum(lo + (rng.random(n) * (hi - lo)).astype(np.int64), D - 1)
    p.enrolled[[0, anon]] = -6 * YEAR - 30  # the administrator and the AnonymousPatron came first

    lapsed = member & (rng.random(n) < 0.22) & (p.enrolled + 180 <= D - 2)
    p.expiry = (D - 1) + rng.integers(1, 3 * YEAR, n)
    span = np.maximum((D - 2) - (p.enrolled + 180), 1)
    p.expiry = np.where(lapsed, p.enrolled + 180 + (rng.random(n) * span).astype(np.int64), p.expiry)
    p.expiry[anon] = cal.day_of(cal.until.replace(year=2099, month=12, day=31))

    # Deleted patrons: lapsed members, never the one adult kept as a guarantor of last resort.
    keep = np.flatnonzero(adult_member)[:1]
    can_delete = lapsed.copy()
    can_delete[keep] = False
    deleted_idx = pick(rng, int(round(members * 0.03)), can_delete)
    p.deleted = np.zeros(n, dtype=bool)
    p.deleted[deleted_idx] = True
    del_day = np.minimum(p.expiry + rng.integers(30, 730, n), D - 1)
    p.deleted_t = np.where(p.deleted, del_day * DAY + 16 * 3600 + rng.integers(0, 3600, n), -1)

    # Guarantors: every juvenile has one or two living adult guarantors and shares their household.
    adults = np.flatnonzero(adult_member & ~p.deleted)
    juveniles = np.flatnonzero(juvenile)
    if len(juveniles) and not len(adults):  # pragma: no cover - members >= 7 always include an adult
        raise RuntimeError("no adult patron to act as guarantor")
    first_g = adults[rng.integers(0, max(len(adults), 1), len(juveniles))]
    second_g = adults[rng.integers(0, max(len(adults), 1), len(juveniles))]
    second = (rng.random(len(juveniles)) < 0.2) & (second_g != first_g)
    kinds = np.where(rng.random(len(juveniles)) < 0.85, "parent", "guardian").astype(object)
    p.rel_guarantor = np.concatenate([first_g, second_g[second]])
    p.rel_guarantee = np.concatenate([juveniles, juveniles[second]])
    p.rel_kind = np.concatenate([kinds, np.full(int(second.sum()), "parent", dtype=object)])
    for key in ("surname", "address", "address2", "city", "state", "zipcode", "phone"):
        arr = getattr(p, key)
        arr[juveniles] = arr[first_g]
    has_email = p.email[juveniles] != None  # noqa: E711
    p.email[juveniles] = np.where(has_email, ids.emails(p.firstname[juveniles], p.surname[juveniles]), None)
    p.contactname = np.full(n, None, dtype=object)
    p.contactfirstname = np.full(n, None, dtype=object)
    p.relationship = np.full(n, None, dtype=object)
    p.contactname[juveniles] = p.surname[first_g]
    p.contactfirstname[juveniles] = p.firstname[first_g]
    p.relationship[juveniles] = kinds

    # Cards, logins, branch, privacy.
    serial = np.cumsum(rng.integers(1, 40, n))
    p.cardnumber = objects(luhn_numbers(f"2{library_code:04d}", serial))
    p.branch = rng.choice(len(branch_codes), size=n, p=[0.4, 0.2, 0.2, 0.2])
    p.branchcode = objects(branch_codes)[p.branch]
    p.userid = _userids(p, staff)
    p.password = np.where((rng.random(n) < 0.65) | (kind == KIND_STAFF), ids.passwords(n), None)
    p.privacy = np.ones(n, dtype=np.int64)
    member_idx = np.flatnonzero(member)
    order = rng.permutation(member_idx)
    n0, n2 = max(1, int(round(members * 0.10))), max(1, int(round(members * 0.05)))
    p.privacy[order[:n0]] = 0
    p.privacy[order[n0:n0 + n2]] = 2

    # Small personal touches.
    sexed_title = np.where(p.sex == "F", np.where(rng.random(n) < 0.5, "Ms", "Mrs"), "Mr")
    p.title = np.where((rng.random(n) < 0.55) & ~juvenile, sexed_title, None)
    p.title = np.where(rng.random(n) < 0.02, "Dr", p.title)
    p.initials = np.where(rng.random(n) < 0.1, objects([f"{f[0]}{s[0]}" for f, s in zip(p.firstname, p.surname)]), None)
    p.othernames = np.where(rng.random(n) < 0.02, ids.first_names(p.sex), None)
    p.pronouns = np.where(rng.random(n) < 0.04, objects(PRONOUNS)[rng.integers(0, 3, n)], None)
    for key in ("firstname", "middle_name", "address", "address2", "city", "state", "zipcode", "phone",
                "mobile", "email", "smsalertnumber", "title", "initials", "othernames", "pronouns", "sex"):
        getattr(p, key)[anon] = None
    p.surname[anon] = "ANONYMOUS"
    p.userid[anon] = "anonymous"
    p.password[anon] = None
    p.dob_null = kind == KIND_ANON

    # Borrowing window and appetite.
    win_lo = np.maximum(p.enrolled, 0)
    win_hi = np.where(member, np.minimum(p.expiry, D), D)
    win_hi = np.where(p.deleted, np.minimum(win_hi, p.deleted_t // DAY), win_hi)
    p.win_lo, p.win_hi = win_lo, np.maximum(win_hi, win_lo)
    appetite = rng.lognormal(0.0, 1.1, n) * np.where(rng.random(n) < 0.12, 0.15, 1.0)
    factor = np.array([CATEGORY_FACTOR[c] for c in category])
    p.weight = appetite * factor * (p.win_hi - p.win_lo)
    if p.weight.sum() <= 0:  # nobody could borrow: let members borrow over the whole history
        p.win_lo = np.where(member, 0, p.win_lo)
        p.win_hi = np.where(member, np.where(p.deleted, p.deleted_t // DAY, D), p.win_hi)
        p.weight = member * (p.win_hi - p.win_lo).astype(float)

    _modifications(p, cal, ids, rng)
    p.borrowernotes = _notes(p, rng, juveniles, first_g)
    p.opacnote = np.where(member & (rng.random(n) < 0.01), "Please contact the library to update your address.", None)
    p.lastseen_t = np.full(n, -1, dtype=np.int64)  # filled in from circulation
    return p


def _userids(p: People, staff: int) -> np.ndarray:
    seen: dict[str, int] = {}
    out = []
    for i, (f, s) in enumerate(zip(p.firstname.tolist(), p.surname.tolist())):
        clean_f = "".join(c for c in f.lower() if c.isalnum())
        clean_s = "".join(c for c in s.lower() if c.isalnum())
        base = f"{clean_f[0]}{clean_s}" if i < staff else f"{clean_f}.{clean_s}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.append(base if count == 0 else f"{base}{count + 1}")
    return objects(out)


def _modifications(p: People, cal: Calendar, ids: Identities, rng: np.random.Generator) -> None:
    """MODIFY events: one changed field (address, phone or e-mail) with its earlier value."""
    n = p.n
    can = (p.kind == KIND_MEMBER) & (p.win_hi - p.win_lo >= 2)
    modified = can & (rng.random(n) < 0.25)
    day = cal.draw_days(rng, p.win_lo + 1, np.maximum(p.win_hi, p.win_lo + 2))
    p.modify_t = np.where(modified, day * DAY + cal.opening_seconds(rng, n), -1)
    field = rng.integers(0, 3, n)
    field = np.where((field == 1) & (p.phone == None), 0, field)  # noqa: E711
    field = np.where((field == 2) & (p.email == None), 0, field)  # noqa: E711
    p.modify_field = np.where(modified, field, -1)
    old_address = ids.addresses(n, np.ones(len(ids.pools.towns)))["address"]
    old_phone = ids.phones(n)
    old_email = ids.emails(p.firstname, p.surname)
    p.modify_before = np.select([field == 0, field == 1], [old_address, old_phone], old_email)
    enrolled_t = p.enrolled * DAY + cal.opening_seconds(rng, n)
    p.enrolled_t = enrolled_t
    p.updated_t = np.where(p.modify_t >= 0, np.maximum(enrolled_t, p.modify_t), enrolled_t)
    p.updated_t = np.where(p.deleted, p.deleted_t, p.updated_t)


def _notes(p: People, rng: np.random.Generator, juveniles: np.ndarray, first_g: np.ndarray) -> np.ndarray:
    """Staff notes on patron records; many name a person or a phone."""
    n = p.n
    notes = np.full(n, None, dtype=object)
    chosen = np.flatnonzero((p.kind == KIND_MEMBER) & (rng.random(n) < 0.05))
    template = rng.integers(0, 4, len(chosen))
    guarantor = dict(zip(juveniles.tolist(), first_g.tolist()))
    for i, t in zip(chosen.tolist(), template.tolist()):
        phone = p.mobile[i] or p.phone[i]
        if i in guarantor and t == 2:
            g = guarantor[i]
            notes[i] = f"Guarantor {p.firstname[g]} {p.surname[g]} may collect holds for this child."
        elif t == 0 and phone:
            notes[i] = f"Prefers a call on {phone} rather than e-mail."
        elif t == 1:
            notes[i] = f"Spoke with {p.firstname[i]} {p.surname[i]} about a lost card; replacement issued."
        elif t == 3 and p.phone[i]:
            notes[i] = f"Homebound delivery to {p.address[i]}; ring {p.phone[i]} before visiting."
        else:
            notes[i] = "Prefers large print."
    return notes
