"""What a patron owns in Koha: alerts, API keys, files, a photo, messaging preferences, a
pending password reset, consents, club enrolments, lists and their shares, serial
routing, course instructorships, staff lists of patrons, card print batches and the
staff's own permissions, macros, templates and e-resource roles.

These rows live as long as the patron record (the PII map's ``owned``
tables): they belong to living patrons only, except where Koha keeps them
with the link set to NULL (lists and their shares). The staff-only tables
(acquisitions, news, reports …) come from :mod:`.generate_more_staff`.
"""
from __future__ import annotations

import json

import numpy as np

from . import generate_more_staff as staff_tables
from .generate_extra import BRANCHES, Extras, sequence, table
from .generate_util import DAY, Columns, hex_tokens, objects

ONE_PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                              "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e221bc330000000049454e44ae426082")
#: Koha's message attributes: Item_Due, Advance_Notice, Hold_Filled, Item_Check_in, Item_Checkout
MESSAGE_ATTRIBUTES = np.array([1, 2, 4, 5, 6])
SUBSCRIPTIONS = 4


def _ranks(per: np.ndarray) -> np.ndarray:
    """0, 1, … within each group of ``per`` rows: [2, 1, 3] → [0, 1, 0, 0, 1, 2]."""
    starts = np.repeat(np.cumsum(per) - per, per)
    return np.arange(int(per.sum())) - starts


def _distinct(who: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per patron (the first event of each)."""
    _, first = np.unique(who, return_index=True)
    keep = np.sort(first)
    return who[keep], t[keep]


def personal(x: Extras) -> list[Columns]:
    """alert, api_keys, borrower_files, patronimage, borrower_password_recovery, patron_consent."""
    rng = x.rng("personal")
    alive = x.member & x.alive
    out = []
    who, t = x.events(rng, x.count(0.01, 3), alive)
    n = len(who)
    out.append(table("alert", alertid=sequence(n), borrowernumber=who + 1, type=np.full(n, "issue", dtype=object),
                     externalid=objects([str(v) for v in rng.integers(1, SUBSCRIPTIONS + 1, n).tolist()]),
                     date=x.days(t // DAY)))
    who, t = _distinct(*x.events(rng, x.count(0.002, 2), alive))
    n = len(who)
    out.append(table("api_keys", client_id=objects(hex_tokens(rng, n, 36)), secret=objects(hex_tokens(rng, n, 64)),
                     description=x.mention(rng, who, ["{first}'s reading tracker"], share=0.5, plain=["Home app"]),
                     patron_id=who + 1, active=(rng.random(n) < 0.8).astype(np.int64)))
    who, t = x.events(rng, x.count(0.005, 3), alive)
    n = len(who)
    surname = x.people.surname[who]
    out.append(table("borrower_files", file_id=sequence(n), borrowernumber=who + 1,
                     file_name=objects([f"{s.lower().replace(' ', '_')}_proof_of_address.pdf" for s in surname]),
                     file_type=np.full(n, "application/pdf", dtype=object),
                     file_description=x.mention(rng, who, ["Utility bill of {name}"], share=0.7),
                     file_content=[b"%PDF-1.4 synthetic proof of address"] * n, date_uploaded=x.moments(t),
                     uploaded_by=x.staff_pick(rng, n)))
    who, _ = _distinct(*x.events(rng, x.count(0.02, 3), alive, recent=0, old=0))
    out.append(table("patronimage", borrowernumber=who + 1, mimetype=np.full(len(who), "image/png", dtype=object),
                     imagefile=[ONE_PIXEL_PNG] * len(who)))
    who, t = _distinct(*x.events(rng, x.count(0.004, 2), x.active, span=(x.cal.days - 10, x.cal.days)))
    n = len(who)
    out.append(table("borrower_password_recovery", borrowernumber=who + 1, uuid=objects(hex_tokens(rng, n, 32)),
                     valid_until=x.fmt.moments(t + 2 * DAY)))
    who, t = _distinct(*x.events(rng, x.count(0.3), alive))
    n = len(who)
    refused = rng.random(n) < 0.1
    out.append(table("patron_consent", id=sequence(n), borrowernumber=who + 1,
                     type=np.full(n, "GDPR_PROCESSING", dtype=object), given_on=x.moments(t, null=refused),
                     refused_on=x.moments(t, null=~refused)))
    return out


def messaging(x: Extras) -> list[Columns]:
    """borrower_message_preferences (with two category defaults) and their transports."""
    rng = x.rng("borrower_message_preferences")
    who = np.flatnonzero(x.member & x.alive & (rng.random(x.people.n) < 0.4))
    per = rng.integers(1, 4, len(who))
    patron = np.repeat(who, per)
    shuffled = np.argsort(rng.random((len(who), len(MESSAGE_ATTRIBUTES))), axis=1)  # distinct per patron
    attribute = MESSAGE_ATTRIBUTES[shuffled[np.arange(len(who)).repeat(per), _ranks(per)]]
    patron_bn = np.concatenate([np.full(2, None, dtype=object), (patron + 1).astype(object)])
    category = np.concatenate([objects(["PT", "J"]), np.full(len(patron), None, dtype=object)])
    attribute = np.concatenate([[1, 4], attribute]).astype(np.int64)
    n = len(attribute)
    prefs = table("borrower_message_preferences", borrower_message_preference_id=sequence(n),
                  borrowernumber=patron_bn, categorycode=category, message_attribute_id=attribute,
                  days_in_advance=np.where(attribute == 2, 3, None),
                  wants_digest=(rng.random(n) < 0.2).astype(np.int64))
    sms = rng.random(n) < 0.3
    pref = np.concatenate([np.arange(n), np.flatnonzero(sms)])
    kind = np.concatenate([np.full(n, "email", dtype=object), np.full(int(sms.sum()), "sms", dtype=object)])
    order = np.lexsort((kind, pref))
    return [prefs, table("borrower_message_transport_preferences", borrower_message_preference_id=pref[order] + 1,
                         message_transport_type=kind[order])]


def clubs(x: Extras) -> list[Columns]:
    rng = x.rng("club_enrollments")
    who, t = _distinct(*x.events(rng, x.count(0.02, 3), x.member & x.alive))
    n = len(who)
    canceled = rng.random(n) < 0.2
    gone = np.minimum(t + rng.integers(30, 300, n) * DAY, x.cal.end - 1)
    enrol = table("club_enrollments", id=sequence(n), club_id=rng.integers(1, 4, n), borrowernumber=who + 1,
                  date_enrolled=x.moments(t), date_canceled=x.moments(gone, null=~canceled), date_created=x.moments(t),
                  date_updated=x.moments(np.where(canceled, gone, t)), branchcode=BRANCHES[x.people.branch[who]])
    value = x.mention(rng, who, ["{first}, age 9 - allergic to nuts", "Parent contact: {phone}"], share=0.6,
                      plain=["Mysteries", "Fantasy", "Graphic novels"])
    fields = table("club_enrollment_fields", id=sequence(n), club_enrollment_id=sequence(n),
                   club_template_enrollment_field_id=np.ones(n, dtype=np.int64), value=value)
    return [enrol, fields]


def lists(x: Extras) -> list[Columns]:
    """virtualshelves, virtualshelfcontents and virtualshelfshares."""
    rng = x.rng("virtualshelves")
    who, t = x.events(rng, x.count(0.03, 3), x.who_may("virtualshelves", "owner"))
    n = len(who)
    owner = x.link(who)
    name = x.mention(rng, who, ["{first}'s summer reading", "Books for {name}'s book club"], share=0.4,
                     plain=["To read", "Favourites", "Gift ideas"])
    public = (rng.random(n) < 0.2).astype(np.int64)
    ones = np.ones(n, dtype=np.int64)
    shelves = table("virtualshelves", shelfnumber=sequence(n), shelfname=name, owner=owner, public=public,
                    sortfield=np.full(n, "title", dtype=object), lastmodified=x.moments(t), created_on=x.moments(t),
                    allow_change_from_owner=ones, allow_change_from_others=np.zeros(n, dtype=np.int64),
                    allow_change_from_staff=np.zeros(n, dtype=np.int64),
                    allow_change_from_permitted_staff=np.zeros(n, dtype=np.int64), category=np.where(public, 2, 1))
    per = rng.integers(1, 8, n)
    shelf = np.repeat(np.arange(n), per)
    m = len(shelf)
    added = np.minimum(t[shelf] + rng.integers(0, 60 * DAY, m), x.cal.end - 1)
    added = np.where(x.people.deleted[who[shelf]], np.minimum(added, x.people.deleted_t[who[shelf]] - 60), added)
    contents = table("virtualshelfcontents", shelfnumber=shelf + 1, biblionumber=x.biblios(rng, m) + 1,
                     flags=np.full(m, None, dtype=object), dateadded=x.moments(added), borrowernumber=owner[shelf])
    shared = np.flatnonzero(rng.random(n) < 0.25)
    guest, _ = x.events(rng, len(shared), x.who_may("virtualshelfshares", "borrowernumber"), recent=0, old=0)
    k = len(guest)
    pending = rng.random(k) < 0.3
    shares = table("virtualshelfshares", id=sequence(k), shelfnumber=shared[:k] + 1, borrowernumber=x.link(guest),
                   invitekey=np.where(pending, objects(hex_tokens(rng, k, 10)), None),
                   sharedate=x.moments(np.minimum(t[shared[:k]] + DAY, x.cal.end - 1)))
    return [shelves, contents, shares]


def routing(x: Extras) -> list[Columns]:
    """subscription (a few serials) and subscriptionroutinglist (the patrons each is routed to)."""
    rng = x.rng("subscriptionroutinglist")
    k = SUBSCRIPTIONS
    staff = x.staff[rng.integers(0, len(x.staff), k)]
    subs = table("subscription", biblionumber=x.biblios(rng, k) + 1, subscriptionid=sequence(k),
                 librarian=x.people.userid[staff], startdate=x.days(rng.integers(0, max(1, x.cal.days // 2), k)),
                 status=np.full(k, "1", dtype=object), branchcode=BRANCHES[rng.integers(0, 4, k)],
                 countissuesperunit=np.ones(k, dtype=np.int64), numberlength=np.full(k, 12, dtype=np.int64))
    who, _ = x.events(rng, x.count(0.01, 4), x.member & x.alive, recent=0, old=0)
    who = np.unique(who)
    n = len(who)
    sub = rng.integers(1, k + 1, n)
    routes = table("subscriptionroutinglist", routingid=sequence(n), borrowernumber=who + 1,
                   ranking=rng.integers(1, 10, n), subscriptionid=sub)
    return [subs, routes]


def staff_owned(x: Extras) -> list[Columns]:
    """course_instructors, patron_lists (+ patrons), creator_batches, user_permissions, advanced_editor_macros,
    item_editor_templates, erm_user_roles and iso18626_requesting_agencies."""
    rng = x.rng("staff_owned")
    p, staff = x.people, x.staff
    s = len(staff)
    out = []
    faculty = np.unique(np.concatenate([staff[:2], x.events(rng, 2, x.active, recent=0, old=0)[0]]))
    course = (np.arange(len(faculty)) % 3) + 1
    out.append(table("course_instructors", course_id=course, borrowernumber=faculty + 1))
    k = max(2, s)
    owner = staff[np.arange(k) % s]
    members, _ = x.events(rng, x.count(0.02, 4), x.member & x.alive, recent=0, old=0)
    names = x.mention(rng, members[:k], ["Homebound route incl. {name}", "Follow up: {name} ({phone})"], share=0.5,
                      plain=["Book club", "Volunteers"])
    out.append(table("patron_lists", patron_list_id=sequence(k), name=names, owner=owner + 1,
                     shared=np.zeros(k, dtype=np.int64)))
    pairs = np.unique(np.stack([rng.integers(1, k + 1, len(members)), members + 1], axis=1), axis=0)
    out.append(table("patron_list_patrons", patron_list_patron_id=sequence(len(pairs)), patron_list_id=pairs[:, 0],
                     borrowernumber=pairs[:, 1]))
    new, t = x.events(rng, x.count(0.01, 3), x.active, span=(x.cal.days - 30, x.cal.days))
    m = len(new)
    out.append(table("creator_batches", label_id=sequence(m), batch_id=np.ones(m, dtype=np.int64),
                     description=x.mention(rng, new, ["Replacement card for {name}"], share=0.3,
                                           plain=["New cards this month"]), item_number=np.full(m, None, object),
                     borrower_number=new + 1, timestamp=x.moments(t), branch_code=BRANCHES[p.branch[new]],
                     creator=np.full(m, "Patroncards", dtype=object)))
    codes = [(1, "circulate_remaining_permissions"), (4, "edit_borrowers"),
             (4, "view_borrower_infos_from_any_libraries"), (9, "edit_catalogue"), (13, "edit_news")]
    perm = [(b + 1, bit, code) for b in staff.tolist() for bit, code in codes[: 2 + b % 4]]
    out.append(table("user_permissions", borrowernumber=[r[0] for r in perm], module_bit=[r[1] for r in perm],
                     code=[r[2] for r in perm]))
    out.append(table("advanced_editor_macros", id=sequence(s), name=objects([f"Macro {i + 1}" for i in range(s)]),
                     macro=np.full(s, "new 245\n$a Title", dtype=object), borrowernumber=staff + 1,
                     shared=np.zeros(s, dtype=np.int64)))
    out.append(table("item_editor_templates", id=sequence(s), patron_id=staff + 1,
                     name=objects([f"DVD defaults {i + 1}" for i in range(s)]), is_shared=np.ones(s, dtype=np.int64),
                     contents=np.full(s, json.dumps({"itype": "DVD", "location": "AV"}), dtype=object)))
    out.append(table("erm_user_roles", user_role_id=sequence(s), agreement_id=np.ones(s, dtype=np.int64),
                     license_id=np.full(s, None, dtype=object), user_id=staff + 1,
                     role=np.full(s, "subject_specialist", dtype=object)))
    partner = x.events(rng, 1, x.active, recent=0, old=0)[0]
    out.append(table("iso18626_requesting_agencies", iso18626_requesting_agency_id=sequence(len(partner)),
                     name=np.full(len(partner), "Neighbouring county library", dtype=object),
                     borrowernumber=partner + 1, type=np.full(len(partner), "ISIL", dtype=object),
                     account_id=np.full(len(partner), "US-XX-1", object),
                     securityCode=objects(hex_tokens(rng, len(partner), 16)),
                     callback_endpoint=np.full(len(partner), "https://ill.example.org/iso18626", dtype=object)))
    return out


BUILDERS = [
    (("alert", "api_keys", "borrower_files", "patronimage", "borrower_password_recovery", "patron_consent"), personal),
    (("borrower_message_preferences", "borrower_message_transport_preferences"), messaging),
    (("club_enrollments", "club_enrollment_fields"), clubs),
    (("virtualshelves", "virtualshelfcontents", "virtualshelfshares"), lists),
    (("subscription", "subscriptionroutinglist"), routing),
    (("course_instructors", "patron_lists", "patron_list_patrons", "creator_batches", "user_permissions",
      "advanced_editor_macros", "item_editor_templates", "erm_user_roles", "iso18626_requesting_agencies"),
     staff_owned),
    *staff_tables.BUILDERS,
]
