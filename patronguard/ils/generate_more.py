"""Koha's smaller patron tables: what patrons asked for, said and ran into.

:func:`extra_tables` builds every table of the release line beyond the
circulation core (see :mod:`.generate_extra` for how events are drawn):
this module's requests and opinions — reviews, tags, ratings, purchase
suggestions, article and interlibrary-loan requests, staff messages,
restrictions, followed links, problem reports and catalogue concerns —
and, from :mod:`.generate_more_service` and :mod:`.generate_more_owned`,
services, transactions in progress, what patrons own and the staff-only
tables. Sizes are small shares of the living members (a few percent each).

Each table mixes closed and still-open rows the way Koha's own states say
(a suggestion ``ASKED``, an ILL request not ``completed``, a restriction
without expiry, an unresolved concern): open ones are mostly recent, a few
are stale. Free text names the patron (name, phone or card) in a good share
of rows; staff columns point at staff patrons.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from . import generate_more_owned as owned
from . import generate_more_service as service
from .generate_extra import BRANCHES, Extras, sequence, table
from .generate_util import DAY, Columns, hex_tokens, objects

RECENT_DAYS = 60


def _open_if_recent(x: Extras, rng: np.random.Generator, t: np.ndarray, stale: float = 0.03) -> np.ndarray:
    """True for rows still open: those of the last ``RECENT_DAYS`` days (most) and a few stale ones."""
    recent = t >= x.cal.end - RECENT_DAYS * DAY
    return np.where(recent, rng.random(len(t)) < 0.8, rng.random(len(t)) < stale)


def _later(x: Extras, rng: np.random.Generator, t: np.ndarray, lo_days: int, hi_days: int) -> np.ndarray:
    """Moments ``lo_days``..``hi_days`` after ``t``, never past the history's end."""
    return np.minimum(t + rng.integers(lo_days * DAY, hi_days * DAY + 1, len(t)), x.cal.end - 1)


def reviews(x: Extras) -> list[Columns]:
    rng = x.rng("reviews")
    who, t = x.events(rng, x.count(0.03), x.who_may("reviews", "borrowernumber"))
    n = len(who)
    text = x.mention(rng, who, ["{first} here: read it in one sitting, recommended to my neighbours.",
                                "Loved it. - {name}", "Our book club ({name} hosting) picked this one."],
                     share=0.35, plain=["A slow start but worth it.", "Beautifully written.",
                                        "Not for me.", "The audio version is even better."])
    return [table("reviews", reviewid=sequence(n), borrowernumber=x.link(who), biblionumber=x.biblios(rng, n) + 1,
                  review=text, approved=(rng.random(n) < 0.8).astype(np.int64), datereviewed=x.moments(t))]


def tags(x: Extras) -> list[Columns]:
    rng = x.rng("tags_all")
    who, t = x.events(rng, x.count(0.04), x.who_may("tags_all", "borrowernumber"))
    n = len(who)
    words = x.pools.words[rng.integers(0, len(x.pools.words), n)]
    personal = x.mention(rng, who, ["for {first}", "{first}'s reading list"], share=0.15)
    term = np.where(personal != None, personal, words)  # noqa: E711
    return [table("tags_all", tag_id=sequence(n), borrowernumber=x.link(who), biblionumber=x.biblios(rng, n) + 1,
                  term=term, language=np.full(n, None, dtype=object), date_created=x.moments(t))]


def ratings(x: Extras) -> list[Columns]:
    rng = x.rng("ratings")
    who, t = x.events(rng, x.count(0.05), x.who_may("ratings", "borrowernumber"))
    biblio = x.biblios(rng, len(who))
    _, first = np.unique(who * (x.cat.n_biblio + 1) + biblio, return_index=True)  # one rating per title
    keep = np.sort(first)
    who, t, biblio = who[keep], t[keep], biblio[keep]
    return [table("ratings", borrowernumber=who + 1, biblionumber=biblio + 1,
                  rating_value=rng.integers(1, 6, len(who)), timestamp=x.moments(t))]


def suggestions(x: Extras) -> list[Columns]:
    rng = x.rng("suggestions")
    ids = x.ids(rng)
    who, t = x.events(rng, x.count(0.05), x.who_may("suggestions", "suggestedby"))
    anon = np.full(2, x.people.anon_idx)  # AnonSuggestions: a couple filed under the AnonymousPatron
    who = np.concatenate([who, anon])
    t = np.concatenate([t, x.cal.end - rng.integers(DAY, 400 * DAY, 2)])
    n = len(who)
    still = _open_if_recent(x, rng, t)
    status = np.where(still, objects(["ASKED", "CHECKED", "ACCEPTED", "ORDERED"])[
        rng.choice(4, n, p=[0.5, 0.2, 0.15, 0.15])], np.where(rng.random(n) < 0.7, "AVAILABLE", "REJECTED"))
    status = status.astype(object)
    managed = status != "ASKED"
    accepted = np.isin(status, ["ACCEPTED", "ORDERED", "AVAILABLE"])
    rejected = status == "REJECTED"
    t_managed = _later(x, rng, t, 1, 14)
    t_last = np.where(status == "AVAILABLE", _later(x, rng, t_managed, 10, 60), t_managed)
    staff = x.staff_pick(rng, n)
    day_m, day_l = t_managed // DAY, t_last // DAY
    sex = ids.sexes(n)
    author = objects([f"{s}, {f}" for f, s in zip(ids.first_names(sex).tolist(), ids.surnames(n).tolist())])
    return [table(
        "suggestions", suggestionid=sequence(n), suggestedby=x.link(who), suggesteddate=x.days(t // DAY),
        managedby=np.where(managed, staff, None), manageddate=x.days(day_m, null=~managed),
        acceptedby=np.where(accepted, staff, None), accepteddate=x.days(day_m, null=~accepted),
        rejectedby=np.where(rejected, staff, None), rejecteddate=x.days(day_m, null=~rejected),
        lastmodificationby=np.where(managed, staff, None), lastmodificationdate=x.days(day_l, null=~managed),
        STATUS=status, archived=((~still) & (t < x.cal.end - 365 * DAY) & (rng.random(n) < 0.5)).astype(np.int64),
        note=x.mention(rng, who, ["Please call me on {phone} when it comes in.", "For my book club - {name}",
                                  "My daughter needs this for school. {name}"], share=0.4,
                       plain=[None, "Large print if possible.", "Saw it reviewed in the paper."]),
        staff_note=x.mention(rng, who, ["Spoke with {first} on {phone} about the delay.",
                                        "{name} asked twice at the desk."], share=0.2),
        author=author, title=ids.titles(n), copyrightdate=x.cal.start.year + (t // DAY) // 365 - rng.integers(0, 3, n),
        publishercode=np.full(n, None, dtype=object), date=x.moments(np.where(managed, t_last, t)),
        isbn=objects([f"978{v:010d}" for v in rng.integers(0, 10**10, n).tolist()]),
        reason=np.where(rejected, "Out of print", None).astype(object),
        patronreason=np.where(rng.random(n) < 0.3, "Local interest", None).astype(object),
        branchcode=BRANCHES[x.people.branch[who]], itemtype=np.full(n, "BK", dtype=object),
        quantity=np.ones(n, dtype=np.int64))]


def article_requests(x: Extras) -> list[Columns]:
    rng = x.rng("article_requests")
    who, t = x.events(rng, x.count(0.02), x.who_may("article_requests", "borrowernumber"))
    n = len(who)
    still = _open_if_recent(x, rng, t)
    status = np.where(still, objects(["REQUESTED", "PENDING", "PROCESSING"])[rng.integers(0, 3, n)],
                      np.where(rng.random(n) < 0.8, "COMPLETED", "CANCELED")).astype(object)
    scan = rng.random(n) < 0.6
    done = status == "COMPLETED"
    return [table(
        "article_requests", id=sequence(n), borrowernumber=who + 1, biblionumber=x.biblios(rng, n) + 1,
        branchcode=BRANCHES[x.people.branch[who]], title=x.ids(rng).titles(n),
        volume=objects([str(v) for v in rng.integers(1, 40, n).tolist()]),
        pages=objects([f"{a}-{a + b}" for a, b in zip(rng.integers(1, 300, n).tolist(),
                                                       rng.integers(2, 30, n).tolist())]),
        patron_notes=x.mention(rng, who, ["Needed for my thesis; e-mail or call {phone}.", "{name}, urgent"],
                               share=0.4),
        status=status, notes=x.mention(rng, who, ["Left a voicemail for {first} at {phone}."], share=0.1),
        format=np.where(scan, "SCAN", "PHOTOCOPY").astype(object),
        urls=np.where(done & scan, objects([f"https://files.example.org/scan/{h}" for h in
                                            hex_tokens(rng, n, 12)]), None),
        cancellation_reason=np.where(status == "CANCELED", "NOT_AVAILABLE", None).astype(object),
        created_on=x.moments(t), updated_on=x.moments(np.where(still, t, _later(x, rng, t, 1, 20))),
        toc_request=np.zeros(n, dtype=np.int64))]


def ill(x: Extras) -> list[Columns]:
    """illbatches, illrequests, illrequestattributes and illcomments together (they refer to each other)."""
    rng = x.rng("illrequests")
    ids = x.ids(rng)
    who, t = x.events(rng, x.count(0.03), x.who_may("illrequests", "borrowernumber"))
    n = len(who)
    still = _open_if_recent(x, rng, t)
    status = np.where(still, objects(["NEW", "REQ", "GENREQ"])[rng.integers(0, 3, n)],
                      np.where(rng.random(n) < 0.85, "COMP", "CANCREQ")).astype(object)
    completed = ~still
    t_done = _later(x, rng, t, 5, 40)
    t_reply = _later(x, rng, t, 1, 5)
    article = rng.random(n) < 0.3
    out = []
    batch = np.full(n, None, dtype=object)
    if x.line.has("illbatches"):
        bwho, _ = x.events(rng, max(2, n // 15), x.who_may("illbatches", "patron_id"))
        k = len(bwho)
        names = x.mention(rng, bwho, ["{name} - homeschool term", "Research project of {name}"], share=0.6,
                          plain=["Local history society", "Book club spring list"])
        out.append(table("illbatches", ill_batch_id=sequence(k), name=names, backend=np.full(k, "FreeForm", object),
                         patron_id=x.link(bwho), library_id=BRANCHES[x.people.branch[bwho]],
                         status_code=objects(["NEW", "IN_PROGRESS", "COMPLETED"])[rng.integers(0, 3, k)]))
        batched = rng.random(n) < 0.15
        batch[batched] = rng.integers(1, k + 1, int(batched.sum()))
    staff = x.staff_pick(rng, n)
    out.append(table(
        "illrequests", illrequest_id=sequence(n), borrowernumber=x.link(who), managedby=staff,
        due_date=x.moments(t_done + 21 * DAY, null=~(status == "COMP")),
        branchcode=BRANCHES[x.people.branch[who]], status=status, placed=x.days(t // DAY),
        replied=x.days(t_reply // DAY, null=status == "NEW"), updated=x.moments(np.where(completed, t_done, t_reply)),
        completed=x.days(t_done // DAY, null=~completed), medium=np.where(article, "Article", "Book").astype(object),
        notesopac=x.mention(rng, who, ["Ready for {first} at the front desk."], share=0.2),
        notesstaff=x.mention(rng, who, ["{name} called ({phone}) asking for an update.",
                                        "Patron {name} will pay the lending fee."], share=0.3),
        orderid=objects([f"ILL{v:06d}" for v in rng.integers(0, 10**6, n).tolist()]),
        backend=np.full(n, "FreeForm", dtype=object), batch_id=batch))
    titles = ids.titles(n)
    notes = x.mention(rng, who, ["Any edition is fine. Call {phone}.", "For {name}'s dissertation."], share=0.3)
    kinds = [("type", np.where(article, "article", "book").astype(object)), ("title", titles),
             ("author", ids.surnames(n)), ("notes", notes)]
    req = np.concatenate([sequence(n)] * len(kinds))
    typ = np.concatenate([np.full(n, k, dtype=object) for k, _ in kinds])
    val = np.concatenate([v for _, v in kinds])
    keep = val != None  # noqa: E711
    order = np.lexsort((typ[keep], req[keep]))
    req, typ, val = req[keep][order], typ[keep][order], val[keep][order]
    out.append(table("illrequestattributes", illrequest_id=req, backend=np.full(len(req), "FreeForm", object),
                     type=typ, value=val, readonly=np.zeros(len(req), dtype=np.int64)))
    commented = np.flatnonzero(rng.random(n) < 0.4)
    by_patron = (rng.random(len(commented)) < 0.5) & ~x.people.deleted[who[commented]]
    author = np.where(by_patron, who[commented] + 1, x.staff_pick(rng, len(commented)))
    text = x.mention(rng, who[commented], ["Called {first} at {phone}: still wants it.",
                                           "{name} asked for the loan period to be extended."], share=0.5,
                     plain=["Lender says two weeks.", "Shipped by courier."])
    out.append(table("illcomments", illcomment_id=sequence(len(commented)), illrequest_id=commented + 1,
                     borrowernumber=author, comment=text, timestamp=x.moments(t_reply[commented])))
    return out


def messages(x: Extras) -> list[Columns]:
    rng = x.rng("messages")
    who, t = x.events(rng, x.count(0.05), x.who_may("messages", "borrowernumber"))
    n = len(who)
    to_patron = rng.random(n) < 0.35
    read = to_patron & (rng.random(n) < 0.6)
    text = x.mention(rng, who, ["{first} called from {phone} about a lost card.",
                                "Gave {name} a temporary card; check ID next visit.",
                                "Dear {first}, please bring back the museum pass."], share=0.6,
                     plain=["Address needs confirming.", "Please see the circulation desk."])
    return [table("messages", message_id=sequence(n), borrowernumber=who + 1,
                  branchcode=BRANCHES[x.people.branch[who]], message_type=np.where(to_patron, "B", "L").astype(object),
                  message=text, message_date=x.moments(t), manager_id=x.staff_pick(rng, n),
                  patron_read_date=x.moments(_later(x, rng, t, 0, 10), null=~read))]


def debarments(x: Extras) -> list[Columns]:
    rng = x.rng("borrower_debarments")
    who, t = x.events(rng, x.count(0.02), x.who_may("borrower_debarments", "borrowernumber"))
    n = len(who)
    kind = objects(["MANUAL", "OVERDUES", "SUSPENSION", "DISCHARGE"])[rng.choice(4, n, p=[0.4, 0.35, 0.2, 0.05])]
    form = rng.random(n)
    end_day = (t // DAY) + rng.integers(7, 180, n)
    expiry = np.where(form < 0.25, -1, np.where(form < 0.4, x.cal.days + rng.integers(5, 300, n), end_day))
    expiry = np.where((expiry >= 0) & (expiry < x.cal.days) & (t >= x.cal.end - 30 * DAY),
                      x.cal.days + 30, expiry)  # recent ones are still in force
    comment = x.mention(rng, who, ["{name} was abusive to staff; see incident report.",
                                   "Restricted until {first} settles the lost items (called {phone})."],
                        share=0.5, plain=[None, "Overdue items", "Damaged laptop"])
    return [table("borrower_debarments", borrower_debarment_id=sequence(n), borrowernumber=who + 1,
                  expiration=x.days(expiry, null=expiry < 0), type=kind, comment=comment,
                  manager_id=x.staff_pick(rng, n), created=x.moments(t), updated=x.moments(t))]


def linktracker(x: Extras) -> list[Columns]:
    rng = x.rng("linktracker")
    who, t = x.events(rng, x.count(0.05), x.who_may("linktracker", "borrowernumber"))
    n = len(who)
    biblio = x.biblios(rng, n) + 1
    patron = x.link(who)
    patron[rng.random(n) < 0.1] = None  # TrackClicks = anonymous
    return [table("linktracker", id=sequence(n), biblionumber=biblio, itemnumber=np.full(n, None, dtype=object),
                  borrowernumber=patron,
                  url=objects([f"https://ebooks.example.org/title/{b}" for b in biblio.tolist()]),
                  timeclicked=x.moments(t))]


def problem_reports(x: Extras) -> list[Columns]:
    rng = x.rng("problem_reports")
    who, t = x.events(rng, x.count(0.01), x.who_may("problem_reports", "borrowernumber"))
    n = len(who)
    still = _open_if_recent(x, rng, t, stale=0.05)
    status = np.where(still, np.where(rng.random(n) < 0.5, "New", "Viewed"), "Closed").astype(object)
    title = objects(["Broken link", "Cover missing", "Cannot renew", "Wrong title"])[rng.integers(0, 4, n)]
    content = x.mention(rng, who, ["I am {name}; the link on my account page is broken. Phone {phone}.",
                                   "This is {first}, card {card}: I cannot place holds."], share=0.6,
                        plain=["The page shows an error.", "Images do not load."])
    page = objects([f"/cgi-bin/koha/opac-detail.pl?biblionumber={b}" for b in (x.biblios(rng, n) + 1).tolist()])
    return [table("problem_reports", reportid=sequence(n), title=title, content=content, borrowernumber=who + 1,
                  branchcode=BRANCHES[x.people.branch[who]], username=x.people.userid[who], problempage=page,
                  recipient=np.where(rng.random(n) < 0.7, "library", "admin").astype(object),
                  created_on=x.moments(t), status=status)]


def tickets(x: Extras) -> list[Columns]:
    rng = x.rng("tickets")
    who, t = x.events(rng, x.count(0.01), x.who_may("tickets", "reporter_id"))
    n = len(who)
    still = _open_if_recent(x, rng, t, stale=0.05)
    t_done = _later(x, rng, t, 1, 30)
    body = x.mention(rng, who, ["Reported by {name} at the desk: the record lists the wrong author.",
                                "{first} ({phone}) says volume 2 is catalogued as volume 1."], share=0.5,
                     plain=["The subject headings are wrong.", "Duplicate record."])
    staff = x.staff_pick(rng, n)
    out = [table("tickets", id=sequence(n), source=np.full(n, "catalog", dtype=object), reporter_id=who + 1,
                 reported_date=x.moments(t), title=objects(["Wrong author", "Duplicate record", "Typo in title"])[
                     rng.integers(0, 3, n)], body=body,
                 status=np.where(still, "submitted", "resolved").astype(object), assignee_id=staff,
                 resolver_id=np.where(still, None, staff), resolved_date=x.moments(t_done, null=still),
                 biblio_id=x.biblios(rng, n) + 1)]
    per = rng.integers(1, 3, n)
    ticket = np.repeat(np.arange(n), per)
    m = len(ticket)
    when = _later(x, rng, t[ticket], 0, 10)
    message = x.mention(rng, who[ticket], ["Called {first} on {phone} to confirm.", "Thanks {first}, fixed."],
                        share=0.4, plain=["Looking into it.", "Fixed the record."])
    out.append(table("ticket_updates", id=sequence(m), ticket_id=ticket + 1, user_id=x.staff_pick(rng, m),
                     assignee_id=staff[ticket], public=(rng.random(m) < 0.5).astype(np.int64), date=x.moments(when),
                     message=message, status=np.where(still[ticket], "in_progress", "resolved").astype(object)))
    return out


#: Builders, parents before children; each makes the tables named (those the line lacks are left out).
BUILDERS: list[tuple[tuple[str, ...], Callable[[Extras], list[Columns]]]] = [
    (("reviews",), reviews), (("tags_all",), tags), (("ratings",), ratings), (("suggestions",), suggestions),
    (("article_requests",), article_requests),
    (("illbatches", "illrequests", "illrequestattributes", "illcomments"), ill),
    (("messages",), messages), (("borrower_debarments",), debarments), (("linktracker",), linktracker),
    (("problem_reports",), problem_reports), (("tickets", "ticket_updates"), tickets),
    *service.BUILDERS, *owned.BUILDERS,
]


def extra_tables(x: Extras) -> Iterator[Columns]:
    """Rows of every table of the line beyond the circulation core, parents before children."""
    for names, build in BUILDERS:
        if any(x.line.has(name) for name in names):
            for rows in build(x):
                if x.line.has(rows.table):
                    yield rows
