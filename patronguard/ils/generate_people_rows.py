"""Rows of the patron tables: borrowers, deletedborrowers, borrower_relationships,
borrower_attributes and borrower_modifications.

``borrower_modifications`` holds patron-submitted changes awaiting staff
approval (a full copy of the personal fields with the new values), a few of
them orphaned (their patron was deleted meanwhile: no foreign key), and a
few pending self-registrations (``borrowernumber = 0`` with a verification
token).
"""
from __future__ import annotations

import json

import numpy as np

from .generate_names import Identities
from .generate_people import KIND_ANON, KIND_MEMBER, KIND_STAFF, People
from .generate_util import DAY, Calendar, Columns, Const, Formatter, hex_tokens, objects, pick

_TEXT_FIELDS = ("cardnumber", "surname", "firstname", "middle_name", "title", "othernames", "initials", "pronouns",
                "address", "address2", "city", "state", "zipcode", "email", "phone", "mobile", "emailpro",
                "branchcode", "sex", "contactname", "contactfirstname", "relationship", "borrowernotes",
                "opacnote", "userid", "password", "smsalertnumber")


def _person_values(p: People, idx: np.ndarray, fmt: Formatter) -> dict:
    values = {name: getattr(p, name)[idx] for name in _TEXT_FIELDS}
    values.update(
        borrowernumber=idx + 1,
        categorycode=p.category[idx],
        dateofbirth=fmt.days(p.dob[idx], null=p.dob_null[idx]),
        dateenrolled=fmt.days(p.enrolled[idx]),
        dateexpiry=fmt.days(p.expiry[idx]),
        privacy=p.privacy[idx],
        lastseen=fmt.moments(p.lastseen_t[idx], null=p.lastseen_t[idx] < 0),
        updated_on=fmt.moments(p.updated_t[idx]),
        lang=Const("default"),
    )
    return values


def _columns(table: str, values: dict) -> Columns:
    """The builder's values as rows; columns it leaves out are filled in per release line (generate_lines)."""
    return Columns(table, list(values), list(values.values()))


def borrowers(p: People, fmt: Formatter) -> Columns:
    return _columns("borrowers", _person_values(p, np.flatnonzero(~p.deleted), fmt))


def deletedborrowers(p: People, fmt: Formatter) -> Columns:
    return _columns("deletedborrowers", _person_values(p, np.flatnonzero(p.deleted), fmt))


def borrower_relationships(p: People) -> Columns:
    keep = ~p.deleted[p.rel_guarantee]
    guarantor, guarantee, kind = p.rel_guarantor[keep], p.rel_guarantee[keep], p.rel_kind[keep]
    order = np.lexsort((guarantor, guarantee))
    return Columns("borrower_relationships", ["id", "guarantor_id", "guarantee_id", "relationship"],
                   [np.arange(1, len(order) + 1), guarantor[order] + 1, guarantee[order] + 1, kind[order]])


def borrower_attributes(p: People, ids: Identities, rng: np.random.Generator) -> Columns:
    n = p.n
    alive = ~p.deleted & (p.kind != KIND_ANON)
    member = alive & (p.kind == KIND_MEMBER)
    juvenile = alive & (p.category == "J")
    adult = member & (p.category != "J")
    parts = []

    def add(code: str, who: np.ndarray, values) -> None:
        parts.append((np.full(len(who), code, dtype=object), who, objects(values)))

    who = np.flatnonzero(member & (rng.random(n) < 0.7))
    add("NEWSLETTER", who, np.where(rng.random(len(who)) < 0.6, "yes", "no"))
    who = np.flatnonzero(member & (rng.random(n) < 0.8))
    add("CONTACTVIA", who, np.array(["email", "phone", "sms", "mail"])[
        rng.choice(4, size=len(who), p=[0.55, 0.25, 0.15, 0.05])])
    who = np.flatnonzero(juvenile & (rng.random(n) < 0.85))
    level = np.where(rng.random(len(who)) < 0.6, "Elementary", "Middle")
    add("SCHOOL", who, [f"{s} {lv} School" for s, lv in zip(ids.surnames(len(who)), level)])
    who = np.flatnonzero(juvenile & (rng.random(n) < 0.6))
    add("PHOTO_OK", who, np.where(rng.random(len(who)) < 0.7, "Y", "N"))
    who = np.flatnonzero(adult & (rng.random(n) < 0.08))
    sex = ids.sexes(len(who))
    add("ALTCONTACT", who, [f"{f} {s}, {ph}" for f, s, ph in
                            zip(ids.first_names(sex), ids.surnames(len(who)), ids.phones(len(who)))])
    who = np.flatnonzero(alive & (p.kind == KIND_STAFF))
    add("STAFFID", who, [f"S{b + 1:05d}" for b in who.tolist()])

    code = np.concatenate([x[0] for x in parts])
    bn = np.concatenate([x[1] for x in parts]) + 1
    attribute = np.concatenate([x[2] for x in parts])
    code_rank = np.concatenate([np.full(len(x[1]), k) for k, x in enumerate(parts)])
    order = np.lexsort((code_rank, bn))
    return Columns("borrower_attributes", ["id", "borrowernumber", "code", "attribute"],
                   [np.arange(1, len(order) + 1), bn[order], code[order], attribute[order]])


def borrower_modifications(p: People, cal: Calendar, ids: Identities, fmt: Formatter,
                           rng: np.random.Generator) -> Columns:
    members = int((p.kind == KIND_MEMBER).sum())
    active = (p.kind == KIND_MEMBER) & ~p.deleted & (p.win_hi >= cal.days)
    pending = pick(rng, max(1, int(round(members * 0.01))), active)
    orphans = pick(rng, max(1, int(p.deleted.sum()) // 4) if p.deleted.any() else 0, p.deleted)
    idx = np.concatenate([pending, orphans])
    values = _person_values(p, idx, fmt)
    for drop in ("privacy", "lastseen", "updated_on", "lang", "password"):
        values.pop(drop)
    k = len(idx)
    change = rng.integers(0, 3, k)
    new_addr = ids.addresses(k, np.ones(len(ids.pools.towns)))
    moved = change == 0
    for key in ("address", "address2", "city", "zipcode"):
        values[key] = np.where(moved, new_addr[key], values[key])
    values["phone"] = np.where(change == 1, ids.phones(k), values["phone"])
    values["email"] = np.where(change == 2, ids.emails(values["firstname"], values["surname"]), values["email"])
    changed = objects(["address,address2,city,zipcode", "phone", "email"])[change]
    when = np.where(np.isin(idx, orphans), p.deleted_t[idx] - rng.integers(DAY, 60 * DAY, k),
                    cal.end - rng.integers(DAY, 120 * DAY, k))
    when = np.maximum(when, p.enrolled_t[idx] + 60)
    tokens = np.full(k, "", dtype=object)

    # Pending self-registrations: no patron yet (borrowernumber 0), a verification token, all recent.
    s = max(2, p.n // 1000)
    sex = ids.sexes(s)
    first, last = ids.first_names(sex), ids.surnames(s)
    addr = ids.addresses(s, np.ones(len(ids.pools.towns)))
    age = rng.integers(18 * 365, 80 * 365, s)
    fresh = {"borrowernumber": np.zeros(s, dtype=np.int64), "firstname": first, "surname": last, "sex": sex,
             "email": ids.emails(first, last), "phone": ids.phones(s), "categorycode": np.full(s, "PT", dtype=object),
             "branchcode": np.full(s, "MAIN", dtype=object), "dateofbirth": fmt.days(cal.days - 1 - age),
             **{key: addr[key] for key in ("address", "address2", "city", "state", "zipcode")}}
    rows = {name: _concat(values.get(name), fresh.get(name), k, s) for name in set(values) | set(fresh)}
    fresh_t = cal.end - rng.integers(3600, 30 * DAY, s)
    fresh_t[0] = cal.end - rng.integers(3600, 2 * DAY)  # one from the last two days
    rows["timestamp"] = fmt.moments(np.concatenate([when, fresh_t]))
    rows["verification_token"] = np.concatenate([tokens, objects(hex_tokens(rng, s))])
    rows["changed_fields"] = np.concatenate([changed, np.full(
        s, "firstname,surname,sex,address,address2,city,state,zipcode,email,phone,dateofbirth", dtype=object)])
    rows["extended_attributes"] = np.concatenate([np.full(k, None, dtype=object), objects(
        [json.dumps([{"code": "NEWSLETTER", "attribute": "yes"}])] * s)])
    return _columns("borrower_modifications", rows)


def _concat(a, b, k: int, s: int) -> np.ndarray:
    def arr(x, size):
        if x is None or isinstance(x, Const):
            return np.full(size, None if x is None else x.value, dtype=object)
        return objects(x) if not isinstance(x, np.ndarray) or x.dtype != object else x
    left, right = arr(a, k), arr(b, s)
    if left.dtype != object or right.dtype != object:
        return np.concatenate([left.astype(object), right.astype(object)])
    return np.concatenate([left, right])
