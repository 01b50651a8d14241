"""Staff action log, notices sent to patrons and OPAC search history.

* ``action_logs``: MEMBERS CREATE for every patron, MODIFY for about a
  quarter (one changed field, before and after), DELETE for deleted patrons
  — ``object`` is the borrowernumber and ``info`` a JSON text naming the
  patron; CIRCULATION ISSUE/RETURN for a 5 % sample of loans with
  ``object`` = borrowernumber and ``info`` = itemnumber (Koha's IssueLog /
  ReturnLog). ``user`` is a staff borrowernumber. Deleted patrons keep
  their ids here.
* ``message_queue``: ODUE notices a week after the due date of loans still
  out then, HOLD notices when a hold is waiting, CHECKOUT receipts for a
  3 % sample; content starts "Dear <firstname> <surname>,", ``to_address``
  is the patron's e-mail (print notices have none). Rows of deleted patrons
  are gone (``ON DELETE CASCADE``).
* ``search_history``: a few catalogue searches by about a third of
  patrons (``userid`` = borrowernumber, kept after deletion).
"""
from __future__ import annotations

import json

import numpy as np

from .generate_catalogue import Catalogue
from .generate_circulation import Loans
from .generate_holds import Holds
from .generate_people import KIND_MEMBER, KIND_STAFF, People
from .generate_util import DAY, Calendar, Columns, Const, Formatter, hex_tokens, objects

MODIFIED_FIELD = ("address", "phone", "email")
SENSITIVE_SEARCHES = ("divorce mediation", "bankruptcy law", "depression self help", "immigration forms",
                      "pregnancy week by week", "hiv testing", "addiction recovery", "debt relief",
                      "citizenship test", "job interview", "coming out", "domestic violence help")


def _person_json(people: People, i: int, extra: dict | None = None) -> str:
    data = {"borrowernumber": i + 1, "cardnumber": people.cardnumber[i], "firstname": people.firstname[i],
            "surname": people.surname[i], "categorycode": people.category[i],
            "branchcode": people.branchcode[i]}
    if extra:
        data.update(extra)
    return json.dumps(data, ensure_ascii=False)


def action_logs(people: People, loans: Loans, fmt: Formatter, rng: np.random.Generator) -> Columns:
    staff_bn = people.staff_idx + 1
    n = people.n
    parts: list[dict] = []
    everyone = np.arange(n)
    creator = np.where(people.kind == KIND_MEMBER, staff_bn[rng.integers(0, len(staff_bn), n)], 1)
    parts.append(dict(t=people.enrolled_t, user=creator, module="MEMBERS", action="CREATE", obj=everyone + 1,
                      info=[_person_json(people, i) for i in range(n)], script="members/memberentry.pl",
                      diff=[None] * n))
    mod = np.flatnonzero(people.modify_t >= 0)
    infos, diffs = [], []
    for i in mod.tolist():
        field = MODIFIED_FIELD[people.modify_field[i]]
        before, after = people.modify_before[i], getattr(people, field)[i]
        infos.append(_person_json(people, i, {field: {"before": before, "after": after}}))
        diffs.append(json.dumps({"D": {field: {"N": after, "O": before}}}, ensure_ascii=False))
    parts.append(dict(t=people.modify_t[mod], user=staff_bn[rng.integers(0, len(staff_bn), len(mod))],
                      module="MEMBERS", action="MODIFY", obj=mod + 1, info=infos,
                      script="members/memberentry.pl", diff=diffs))
    gone = np.flatnonzero(people.deleted)
    parts.append(dict(t=people.deleted_t[gone], user=staff_bn[rng.integers(0, len(staff_bn), len(gone))],
                      module="MEMBERS", action="DELETE", obj=gone + 1,
                      info=[_person_json(people, i) for i in gone.tolist()], script="members/deletemem.pl",
                      diff=[None] * len(gone)))
    sample = np.flatnonzero(rng.random(loans.n) < 0.05)
    item_info = (loans.item[sample] + 1).astype(str).astype(object)
    parts.append(dict(t=loans.t_issue[sample], user=loans.issuer[sample] + 1, module="CIRCULATION",
                      action="ISSUE", obj=loans.patron[sample] + 1, info=item_info,
                      script="circulation.pl", diff=[None] * len(sample)))
    back = sample[loans.returned[sample]]
    parts.append(dict(t=loans.t_ret[back], user=staff_bn[rng.integers(0, len(staff_bn), len(back))],
                      module="CIRCULATION", action="RETURN", obj=loans.patron[back] + 1,
                      info=(loans.item[back] + 1).astype(str).astype(object), script="returns.pl",
                      diff=[None] * len(back)))

    t = np.concatenate([p["t"] for p in parts])
    order = np.argsort(t, kind="stable")

    def col(key: str) -> np.ndarray:
        chunks = [np.full(len(p["t"]), p[key], dtype=object) if isinstance(p[key], str)
                  else objects(p[key]) if isinstance(p[key], list) else p[key] for p in parts]
        return np.concatenate(chunks)[order]

    return Columns("action_logs",
                   ["action_id", "timestamp", "user", "module", "action", "object", "info", "interface", "script",
                    "diff"],
                   [np.arange(1, len(t) + 1), fmt.moments(t[order]), col("user"), col("module"), col("action"),
                    col("obj"), col("info"), Const("intranet"), col("script"), col("diff")])


def message_queue(cal: Calendar, people: People, cat: Catalogue, loans: Loans, holds: Holds,
                  branches: list[tuple], fmt: Formatter, rng: np.random.Generator) -> Columns:
    seven = 7 * DAY
    overdue = np.flatnonzero(~loans.patron_deleted & (loans.due_day * DAY + seven + 2 * 3600 < np.where(
        loans.current, cal.end, loans.t_ret)))
    held = np.flatnonzero(~holds.patron_deleted & (holds.waiting_t >= 0))
    receipt = np.flatnonzero(~loans.patron_deleted & (people.email[loans.patron] != None)  # noqa: E711
                             & (rng.random(loans.n) < 0.03))
    code = np.concatenate([np.zeros(len(overdue), np.int64), np.ones(len(held), np.int64),
                           np.full(len(receipt), 2)])
    ref = np.concatenate([overdue, held, receipt])
    t = np.concatenate([(loans.due_day[overdue] + 7) * DAY + 2 * 3600 + rng.integers(0, 1800, len(overdue)),
                        holds.waiting_t[held] + 300, loans.t_issue[receipt] + 30])
    patron = np.concatenate([loans.patron[overdue], holds.patron[held], loans.patron[receipt]])
    item = np.concatenate([loans.item[overdue], holds.item[held], loans.item[receipt]])
    branch = np.concatenate([loans.branch[overdue], holds.branch[held], loans.branch[receipt]])
    t = np.minimum(t, cal.end - 1)
    order = np.argsort(t, kind="stable")
    code, ref, t, patron, item, branch = (a[order] for a in (code, ref, t, patron, item, branch))
    n = len(t)

    due_text = fmt.days(loans.due_day)
    issue_text = fmt.days(loans.day)
    wait_text = fmt.days(np.maximum(holds.waiting_day, 0))
    contents, subjects = [], []
    letter = ("ODUE", "HOLD", "CHECKOUT")
    subject = ("Item overdue", "Hold available for pickup", "Checkout receipt")
    for c, r, p, it, br in zip(code.tolist(), ref.tolist(), patron.tolist(), item.tolist(), branch.tolist()):
        title, barcode = cat.title[cat.biblio[it]], cat.barcode[it]
        dear = f"Dear {people.firstname[p]} {people.surname[p]},\n\n"
        branch_name = branches[br][1]
        if c == 0:
            body = (f"According to our records, you have items that are overdue. Please return or renew "
                    f"them as soon as possible.\n\n{title} ({barcode}), due {due_text[r]}\n\n{branch_name}")
        elif c == 1:
            body = (f"You have a hold available for pickup as of {wait_text[r]}:\n\n{title} ({barcode})\n\n"
                    f"Please collect it at {branch_name}, {branches[br][2]}.")
        else:
            body = (f"The following item was checked out on {issue_text[r]}:\n\n{title} ({barcode}), "
                    f"due {due_text[r]}\n\nThank you for visiting {branch_name}.")
        contents.append(dear + body)
        subjects.append(subject[c])
    email = people.email[patron]
    has_email = email != None  # noqa: E711
    transport = np.where(has_email, "email", "print").astype(object)
    status = np.where(has_email & (rng.random(n) < 0.07), "failed", "sent").astype(object)
    from_address = objects([b[6] for b in branches])[branch]
    return Columns("message_queue",
                   ["message_id", "letter_id", "borrowernumber", "subject", "content", "metadata", "letter_code",
                    "message_transport_type", "status", "time_queued", "updated_on", "to_address",
                    "from_address", "content_type"],
                   [np.arange(1, n + 1), Const(None), patron + 1, subjects, contents, Const(None),
                    objects(letter)[code], transport, status, fmt.moments(t),
                    fmt.moments(np.minimum(t + rng.integers(60, 900, n), cal.end - 1)), email, from_address,
                    Const('text/plain; charset="UTF-8"')])


def search_history(cal: Calendar, people: People, ids_words: np.ndarray, fmt: Formatter,
                   rng: np.random.Generator) -> Columns:
    n = people.n
    searcher = np.flatnonzero(((people.kind == KIND_MEMBER) | (people.kind == KIND_STAFF))
                              & (people.win_hi > people.win_lo) & (rng.random(n) < 0.35))
    per = np.minimum(1 + rng.poisson(3, len(searcher)), 20)
    who = np.repeat(searcher, per)
    m = len(who)
    day = cal.draw_days(rng, people.win_lo[who], people.win_hi[who])
    t = day * DAY + cal.opening_seconds(rng, m)
    t = np.where(people.deleted[who], np.minimum(t, people.deleted_t[who] - 60), t)
    order = np.argsort(t, kind="stable")
    who, t = who[order], t[order]
    length = rng.integers(1, 4, m)
    picks = ids_words[rng.integers(0, len(ids_words), (m, 3))].tolist()
    sensitive = rng.random(m) < 0.15
    topic = rng.integers(0, len(SENSITIVE_SEARCHES), m).tolist()
    queries = [SENSITIVE_SEARCHES[tp] if s else " ".join(row[:k])
               for row, k, s, tp in zip(picks, length.tolist(), sensitive.tolist(), topic)]
    kind = np.where(rng.random(m) < 0.05, "authority", "biblio").astype(object)
    return Columns("search_history",
                   ["id", "userid", "sessionid", "query_desc", "query_cgi", "type", "total", "time"],
                   [np.arange(1, m + 1), who + 1, hex_tokens(rng, m), [f"kw,wrdl: {q}" for q in queries],
                    [f"idx=kw&q={q.replace(' ', '+')}&sort_by=relevance" for q in queries], kind,
                    rng.integers(0, 500, m), fmt.moments(t)])
