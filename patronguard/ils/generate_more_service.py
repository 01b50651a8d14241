"""Koha's service and in-progress tables: renewals, pseudonymised transactions, offline
circulation, discharges, housebound deliveries, return claims, curbside pickups,
bookings, recalls and the holds queue.

Renewals, return claims and the pseudonymised copies follow the loans
(:mod:`.generate_circulation`): one ``checkout_renewals`` row per renewal
(the patron renewed from the catalogue, staff at the desk), a return claim
on some overdue loans (open) and on some late returns (resolved), and a
pseudonymised copy of a sample of checkouts and returns. The holds queue
(``tmp_holdsqueue``, ``hold_fill_targets``) is built from the holds still
open at the end of the history, one row per available item.
"""
from __future__ import annotations

import numpy as np

from .generate_circulation import MAX_RENEWALS
from .generate_extra import BRANCHES, Extras, sequence, table
from .generate_util import DAY, Columns, objects


def checkout_renewals(x: Extras) -> list[Columns]:
    rng = x.rng("checkout_renewals")
    L = x.loans
    loan = np.concatenate([np.flatnonzero(L.renewals > k) for k in range(MAX_RENEWALS)])
    nth = np.concatenate([np.full(int((L.renewals > k).sum()), k) for k in range(MAX_RENEWALS)])
    t = L.ren_t[loan, nth]
    gone = L.patron_deleted[loan]
    if x.line.on_delete("checkout_renewals", "renewer_id") not in (None, "SET NULL"):
        loan, t, gone = loan[~gone], t[~gone], gone[~gone]
    order = np.lexsort((loan, t))
    loan, t, gone = loan[order], t[order], gone[order]
    n = len(loan)
    opac = rng.random(n) < 0.55
    renewer = np.where(opac, L.patron[loan] + 1, x.staff_pick(rng, n)).astype(object)
    renewer[opac & gone] = None
    return [table("checkout_renewals", renewal_id=sequence(n), checkout_id=loan + 1, renewer_id=renewer,
                  seen=(~opac).astype(np.int64), interface=np.where(opac, "opac", "intranet").astype(object),
                  timestamp=x.moments(t), renewal_type=np.full(n, "Manual", dtype=object))]


def pseudonymized(x: Extras) -> list[Columns]:
    """pseudonymized_transactions with pseudonymized_metadata_values (current) or
    pseudonymized_borrower_attributes (older lines)."""
    rng = x.rng("pseudonymized_transactions")
    L, p, cat = x.loans, x.people, x.cat
    k = min(L.n, max(20, int(round(L.n * 0.03))))
    loan = np.sort(rng.choice(L.n, size=k, replace=False))
    back = L.returned[loan] & (rng.random(k) < 0.5)
    t = np.where(back, L.t_ret[loan], L.t_issue[loan])
    order = np.argsort(t, kind="stable")
    loan, back, t = loan[order], back[order], t[order]
    who, item = L.patron[loan], L.item[loan]
    alphabet = np.array(list("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    hashes = objects(["$2a$08$" + "".join(r) for r in alphabet[rng.integers(0, 64, (p.n, 53))].tolist()])
    out = [table("pseudonymized_transactions", id=sequence(k), hashed_borrowernumber=hashes[who],
                 has_cardnumber=np.ones(k, dtype=np.int64), title=p.title[who], city=p.city[who], state=p.state[who],
                 zipcode=p.zipcode[who], branchcode=p.branchcode[who], categorycode=p.category[who],
                 dateenrolled=x.days(p.enrolled[who]), sex=p.sex[who], datetime=x.moments(t),
                 transaction_branchcode=BRANCHES[L.branch[loan]],
                 transaction_type=np.where(back, "return", "issue").astype(object), itemnumber=item + 1,
                 itemtype=cat.itype[item], holdingbranch=BRANCHES[L.branch[loan]],
                 homebranch=BRANCHES[cat.homebranch[item]],
                 location=cat.location[item], itemcallnumber=cat.callnumber[item], ccode=cat.ccode[item])]
    extra = np.flatnonzero(rng.random(k) < 0.5)
    code = objects(["CONTACTVIA", "NEWSLETTER"])[rng.integers(0, 2, len(extra))]
    value = np.where(code == "NEWSLETTER", np.where(rng.random(len(extra)) < 0.6, "yes", "no"),
                     objects(["email", "phone", "sms"])[rng.integers(0, 3, len(extra))]).astype(object)
    m = len(extra)
    out.append(table("pseudonymized_metadata_values", id=sequence(m), transaction_id=extra + 1,
                     tablename=np.full(m, "borrower_attributes", dtype=object), key=code, value=value))
    out.append(table("pseudonymized_borrower_attributes", id=sequence(m), transaction_id=extra + 1, code=code,
                     attribute=value))
    return out


def offline_operations(x: Extras) -> list[Columns]:
    rng = x.rng("pending_offline_operations")
    who, t = x.events(rng, x.count(0.005, 4), x.member & x.alive, recent=0.5)
    n = len(who)
    action = objects(["issue", "return", "payment"])[rng.choice(3, n, p=[0.5, 0.4, 0.1])]
    item = rng.integers(0, x.cat.n_items, n)
    staff = x.staff[rng.integers(0, len(x.staff), n)]
    return [table("pending_offline_operations", operationid=sequence(n), userid=x.people.userid[staff],
                  branchcode=BRANCHES[x.people.branch[who]], timestamp=x.moments(t), action=action,
                  barcode=np.where(action == "payment", None, x.cat.barcode[item]),
                  cardnumber=np.where(action == "return", None, x.people.cardnumber[who]),
                  amount=np.where(action == "payment", np.round(rng.random(n) * 10, 2), None))]


def discharges(x: Extras) -> list[Columns]:
    rng = x.rng("discharges")
    who, t = x.events(rng, x.count(0.005), x.who_may("discharges", "borrower"))
    n = len(who)
    pending = t >= x.cal.end - 20 * DAY
    pending[n // 2] = True
    later = np.minimum(t + rng.integers(DAY, 10 * DAY, n), x.cal.end - 1)
    return [table("discharges", discharge_id=sequence(n), borrower=who + 1, needed=x.moments(t),
                  validated=x.moments(later, null=pending))]


def housebound(x: Extras) -> list[Columns]:
    rng = x.rng("housebound_profile")
    p = x.people
    mask = x.member & x.alive & ((p.category == "SR") | (rng.random(p.n) < 0.2))
    homebound = np.unique(x.events(rng, x.count(0.01, 3), mask, recent=0, old=0)[0])
    k = len(homebound)
    days = objects(["monday", "tuesday", "wednesday", "thursday", "friday"])
    profile = table(
        "housebound_profile", borrowernumber=homebound + 1, day=days[rng.integers(0, 5, k)],
        frequency=objects(["every_week", "every_two_weeks", "every_month"])[rng.integers(0, 3, k)],
        fav_itemtypes=objects(["BK|LP", "AB", "LP"])[rng.integers(0, 3, k)],
        fav_subjects=objects(["Mysteries", "Gardening", "Local history", "Romance"])[rng.integers(0, 4, k)],
        fav_authors=x.ids(rng).surnames(k),
        referral=x.mention(rng, homebound, ["Referred by {first}'s daughter."], share=0.5, plain=["Social services"]),
        notes=x.mention(rng, homebound, ["Ring {phone} before delivery; {first} is hard of hearing.",
                                         "Key safe at {name}'s back door."], share=0.7))
    volunteers = x.staff
    role = table("housebound_role", borrowernumber_id=volunteers + 1,
                 housebound_chooser=np.ones(len(volunteers), dtype=np.int64),
                 housebound_deliverer=np.ones(len(volunteers), dtype=np.int64))
    who, t = x.events(rng, max(k * 6, 6), np.isin(np.arange(p.n), homebound))
    m = len(who)
    visit = table("housebound_visit", id=sequence(m), borrowernumber=who + 1, appointment_date=x.days(t // DAY),
                  day_segment=objects(["morning", "afternoon", "evening"])[rng.integers(0, 3, m)],
                  chooser_brwnumber=volunteers[rng.integers(0, len(volunteers), m)] + 1,
                  deliverer_brwnumber=volunteers[rng.integers(0, len(volunteers), m)] + 1)
    return [profile, role, visit]


def return_claims(x: Extras) -> list[Columns]:
    rng = x.rng("return_claims")
    L = x.loans
    alive = x.alive[L.patron]
    open_ = np.flatnonzero(L.overdue_now & alive)
    shut = np.flatnonzero(L.late_returned & alive)
    open_ = np.sort(rng.choice(open_, size=min(len(open_), max(2, len(open_) // 10)), replace=False))
    shut = np.sort(rng.choice(shut, size=min(len(shut), x.count(0.01, 4)), replace=False))
    loan = np.concatenate([open_, shut])
    resolved = np.concatenate([np.zeros(len(open_), bool), np.ones(len(shut), bool)])
    n = len(loan)
    t = np.minimum(L.t_due[loan] + rng.integers(DAY, 20 * DAY, n),
                   np.where(resolved, L.t_ret[loan] - 60, x.cal.end - 1))
    t = np.maximum(t, L.t_issue[loan] + 60)
    t_res = np.where(resolved, np.maximum(L.t_ret[loan], t + 60), -1)
    who = L.patron[loan]
    staff = x.staff_pick(rng, n)
    return [table("return_claims", id=sequence(n), itemnumber=L.item[loan] + 1, issue_id=loan + 1,
                  borrowernumber=who + 1,
                  notes=x.mention(rng, who, ["{name} insists it went in the book drop.",
                                             "{first} ({phone}) returned it at another branch."], share=0.6),
                  created_on=x.moments(t), created_by=staff, updated_on=x.moments(np.where(resolved, t_res, t)),
                  updated_by=staff, resolution=np.where(resolved, np.where(rng.random(n) < 0.6, "RET_BY_PATRON",
                                                                           "FOUND_IN_LIB"), None).astype(object),
                  resolved_on=x.moments(t_res, null=~resolved), resolved_by=np.where(resolved, staff, None))]


def curbside(x: Extras) -> list[Columns]:
    rng = x.rng("curbside_pickups")
    who, t = x.events(rng, x.count(0.01), x.who_may("curbside_pickups", "borrowernumber"))
    n = len(who)
    upcoming = t >= x.cal.end - 2 * DAY
    upcoming[-1] = True
    t = np.where(upcoming, x.cal.end + rng.integers(0, 3, n) * DAY + 14 * 3600, t)  # scheduled ahead
    staged = ~upcoming | (rng.random(n) < 0.3)
    staff = x.staff_pick(rng, n)
    return [table("curbside_pickups", id=sequence(n), borrowernumber=who + 1, branchcode=BRANCHES[x.people.branch[who]],
                  scheduled_pickup_datetime=x.fmt.moments(t), staged_datetime=x.fmt.moments(t - 3600, null=~staged),
                  staged_by=np.where(staged, staff, None), arrival_datetime=x.fmt.moments(t + 300, null=upcoming),
                  delivered_datetime=x.fmt.moments(t + 600, null=upcoming),
                  delivered_by=np.where(upcoming, None, staff),
                  notes=x.mention(rng, who, ["{first} drives a blue van; call {phone} on arrival."], share=0.5))]


def bookings(x: Extras) -> list[Columns]:
    rng = x.rng("bookings")
    who, t = x.events(rng, x.count(0.01), x.who_may("bookings", "patron_id"))
    n = len(who)
    item = rng.integers(0, x.cat.n_items, n)
    start = t + rng.integers(1, 30, n) * DAY
    end = start + rng.integers(2, 14, n) * DAY
    status = np.where(rng.random(n) < 0.1, "cancelled", np.where(end < x.cal.end, "completed", "new")).astype(object)
    return [table("bookings", booking_id=sequence(n), patron_id=who + 1, biblio_id=x.cat.biblio[item] + 1,
                  item_id=item + 1, pickup_library_id=BRANCHES[x.people.branch[who]],
                  start_date=x.fmt.moments(start), end_date=x.fmt.moments(end), creation_date=x.moments(t),
                  modification_date=x.moments(t), status=status,
                  cancellation_reason=np.where(status == "cancelled", "Patron request", None).astype(object))]


def recalls(x: Extras) -> list[Columns]:
    rng = x.rng("recalls")
    who, t = x.events(rng, x.count(0.005), x.who_may("recalls", "patron_id"))
    n = len(who)
    item = rng.integers(0, x.cat.n_items, n)
    still = (t >= x.cal.end - 30 * DAY) | (np.arange(n) == n - 1)
    status = np.where(still, objects(["requested", "overdue", "waiting", "in_transit"])[rng.integers(0, 4, n)],
                      objects(["fulfilled", "cancelled", "expired"])[rng.choice(3, n, p=[0.7, 0.2, 0.1])])
    t_done = np.minimum(t + rng.integers(3, 30, n) * DAY, x.cal.end - 1)
    waiting = status == "waiting"
    return [table("recalls", recall_id=sequence(n), patron_id=who + 1, created_date=x.moments(t),
                  biblio_id=x.cat.biblio[item] + 1, pickup_library_id=BRANCHES[x.people.branch[who]],
                  completed_date=x.moments(t_done, null=still),
                  notes=x.mention(rng, who, ["Needed for {first}'s exam; call {phone}."], share=0.4),
                  priority=rng.integers(1, 4, n), status=status.astype(object),
                  timestamp=x.moments(np.where(still, t, t_done)),
                  item_id=item + 1, waiting_date=x.moments(t + 3 * DAY, null=~waiting),
                  expiration_date=x.moments(t + 10 * DAY, null=~waiting), completed=(~still).astype(np.int64),
                  item_level=np.zeros(n, dtype=np.int64))]


def holds_queue(x: Extras) -> list[Columns]:
    """tmp_holdsqueue, hold_fill_targets, hold_groups and club_holds_to_patron_holds from the open holds."""
    rng = x.rng("tmp_holdsqueue")
    h, p, cat = x.holds, x.people, x.cat
    queued = np.flatnonzero(h.current & (h.found == None) & (x.loans.item_on_loan[h.item] < 0))  # noqa: E711
    _, first = np.unique(h.item[queued], return_index=True)
    hold = queued[np.sort(first)]
    n = len(hold)
    who, item = h.patron[hold], h.item[hold]
    built = x.cal.end - 3600
    out = [table("tmp_holdsqueue", biblionumber=h.biblio[hold] + 1, itemnumber=item + 1, barcode=cat.barcode[item],
                 surname=p.surname[who], firstname=p.firstname[who], phone=p.phone[who], borrowernumber=who + 1,
                 cardnumber=p.cardnumber[who], reservedate=x.days(h.placed[hold]), title=cat.title[cat.biblio[item]],
                 itemcallnumber=cat.callnumber[item], holdingbranch=BRANCHES[cat.homebranch[item]],
                 pickbranch=BRANCHES[h.branch[hold]], notes=h.reservenotes[hold],
                 item_level_request=np.zeros(n, dtype=np.int64), timestamp=x.moments(np.full(n, built))),
           table("hold_fill_targets", borrowernumber=who + 1, biblionumber=h.biblio[hold] + 1, itemnumber=item + 1,
                 source_branchcode=BRANCHES[cat.homebranch[item]], item_level_request=np.zeros(n, dtype=np.int64),
                 reserve_id=hold + 1)]
    holders = np.unique(h.patron[h.current])
    groups = holders[: max(1, len(holders) // 20)]
    out.append(table("hold_groups", hold_group_id=sequence(len(groups)), borrowernumber=groups + 1))
    club = np.flatnonzero(h.current)[: max(2, int(h.current.sum()) // 10)]
    k = len(club)
    failed = rng.random(k) < 0.2
    out.append(table("club_holds_to_patron_holds", id=sequence(k), club_hold_id=np.ones(k, dtype=np.int64),
                     patron_id=h.patron[club] + 1, hold_id=np.where(failed, None, club + 1),
                     error_code=np.where(failed, "tooManyReserves", None).astype(object),
                     error_message=np.where(failed, "Too many holds", None).astype(object)))
    return out


BUILDERS = [
    (("checkout_renewals",), checkout_renewals),
    (("pseudonymized_transactions", "pseudonymized_metadata_values", "pseudonymized_borrower_attributes"),
     pseudonymized),
    (("pending_offline_operations",), offline_operations), (("discharges",), discharges),
    (("housebound_profile", "housebound_role", "housebound_visit"), housebound),
    (("return_claims",), return_claims), (("curbside_pickups",), curbside), (("bookings",), bookings),
    (("recalls",), recalls),
    (("tmp_holdsqueue", "hold_fill_targets", "hold_groups", "club_holds_to_patron_holds"), holds_queue),
]
