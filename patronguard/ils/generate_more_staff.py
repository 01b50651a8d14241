"""Koha tables that point at people only as staff: news (``additional_contents``, once
``opac_news``), saved reports, background jobs, acquisitions (funds, baskets, orders and
who manages them), cash-register actions, tag moderation, e-resource usage imports
and uploaded files. A handful of rows each, every person in them a staff patron.
"""
from __future__ import annotations

import json

import numpy as np

from .generate_extra import BRANCHES, Extras, sequence, table
from .generate_util import DAY, Columns, hex_tokens, objects


def news(x: Extras) -> list[Columns]:
    """additional_contents with its localizations (23.11+), or the older single-table shapes."""
    rng = x.rng("additional_contents")
    n = 5
    t = np.sort(x.cal.end - rng.integers(DAY, x.cal.days * DAY, n))
    author = x.staff_pick(rng, n)
    title = objects([f"Library news {i + 1}" for i in range(n)])
    content = objects(["Summer reading starts soon.", "New opening hours.", "Book sale this weekend.",
                       "Closed for the holiday.", "Welcome to our new catalogue."])
    ids = sequence(n)
    day = t // DAY
    common = dict(branchcode=np.full(n, None, dtype=object), published_on=x.days(day), title=title, content=content,
                  lang=np.full(n, "default", dtype=object), expirationdate=x.days(day + 60),
                  number=sequence(n), borrowernumber=author)
    return [table("additional_contents", id=ids, idnew=ids, category=np.full(n, "news", dtype=object),
                  code=objects([f"News_{i}" for i in ids.tolist()]), location=np.full(n, "opac_only", dtype=object),
                  updated_on=x.moments(t), **common),
            table("additional_contents_localizations", id=ids, additional_content_id=ids, title=title,
                  content=content, lang=np.full(n, "default", dtype=object), updated_on=x.moments(t)),
            table("opac_news", idnew=ids, timestamp=x.moments(t), **common)]


def reports_and_jobs(x: Extras) -> list[Columns]:
    rng = x.rng("saved_sql")
    n = 4
    t = np.sort(x.cal.end - rng.integers(DAY, x.cal.days * DAY, n))
    sql = objects(["SELECT count(*) FROM issues", "SELECT branchcode, count(*) FROM borrowers GROUP BY branchcode",
                   "SELECT itemnumber FROM items WHERE itemlost = 1", "SELECT * FROM old_issues LIMIT 10"])
    out = [table("saved_sql", id=sequence(n), borrowernumber=x.staff_pick(rng, n), date_created=x.moments(t),
                 last_modified=x.moments(t), savedsql=sql, last_run=x.moments(np.minimum(t + DAY, x.cal.end - 1)),
                 report_name=objects([f"Report {i + 1}" for i in range(n)]), type=np.full(n, "1", dtype=object),
                 cache_expiry=np.full(n, 300), public=np.zeros(n, dtype=np.int64))]
    m = 6
    t = np.sort(x.cal.end - rng.integers(3600, 90 * DAY, m))
    out.append(table("background_jobs", id=sequence(m), status=np.full(m, "finished", dtype=object),
                     progress=np.full(m, 10), size=np.full(m, 10), borrowernumber=x.staff_pick(rng, m),
                     type=np.full(m, "batch_item_record_modification", dtype=object),
                     queue=np.full(m, "default", dtype=object),
                     data=np.full(m, json.dumps({"record_ids": [1, 2]}), object),
                     context=np.full(m, json.dumps({"interface": "intranet"}), dtype=object),
                     enqueued_on=x.moments(t), started_on=x.moments(t + 5), ended_on=x.moments(t + 60)))
    return out


def acquisitions(x: Extras) -> list[Columns]:
    """aqbudgets, aqbudgetborrowers, aqbasket, aqbasketusers, aqorders, aqorder_users."""
    rng = x.rng("aqbudgets")
    staff = x.staff + 1
    b = 3
    out = [table("aqbudgets", budget_id=sequence(b), budget_code=objects(["ADULT", "CHILD", "AV"]),
                 budget_name=objects(["Adult books", "Children's books", "Audiovisual"]),
                 budget_branchcode=BRANCHES[:b], budget_amount=np.array([20000.0, 8000.0, 5000.0]),
                 timestamp=x.moments(np.full(b, x.cal.end - DAY)), budget_period_id=np.ones(b, dtype=np.int64),
                 budget_owner_id=staff[np.arange(b) % len(staff)], budget_permission=np.zeros(b, dtype=np.int64)),
           table("aqbudgetborrowers", budget_id=sequence(b), borrowernumber=staff[np.arange(b) % len(staff)])]
    k = 4
    t = np.sort(x.cal.end - rng.integers(DAY, x.cal.days * DAY, k))
    manager = staff[rng.integers(0, len(staff), k)]
    out.append(table("aqbasket", basketno=sequence(k), basketname=objects([f"Order {i + 1}" for i in range(k)]),
                     creationdate=x.days(t // DAY), closedate=x.days(t // DAY + 2), booksellerid=np.ones(k, np.int64),
                     authorisedby=objects([str(v) for v in manager.tolist()]), branch=BRANCHES[np.arange(k) % 4],
                     is_standing=np.zeros(k, dtype=np.int64)))
    out.append(table("aqbasketusers", basketno=sequence(k), borrowernumber=manager))
    m = 8
    basket = (np.arange(m) % k) + 1
    out.append(table("aqorders", ordernumber=sequence(m), biblionumber=x.biblios(rng, m) + 1,
                     entrydate=x.days(t[basket - 1] // DAY), quantity=np.ones(m, dtype=np.int64), basketno=basket,
                     budget_id=(np.arange(m) % b) + 1, created_by=manager[basket - 1],
                     orderstatus=np.full(m, "complete", object),
                     quantityreceived=np.ones(m, dtype=np.int64), timestamp=x.moments(t[basket - 1])))
    out.append(table("aqorder_users", ordernumber=sequence(m), borrowernumber=manager[basket - 1]))
    return out


def desk(x: Extras) -> list[Columns]:
    """cash_register_actions, tags_approval, erm_counter_logs, uploaded_files."""
    rng = x.rng("cash_register_actions")
    n = 6
    t = np.sort(x.cal.end - rng.integers(3600, 60 * DAY, n))
    out = [table("cash_register_actions", id=sequence(n), code=np.full(n, "CASHUP", dtype=object),
                 register_id=np.ones(n, dtype=np.int64), manager_id=x.staff_pick(rng, n),
                 amount=np.round(rng.random(n) * 200, 2), timestamp=x.moments(t))]
    terms = x.pools.words[:5]
    out.append(table("tags_approval", term=terms, approved=np.ones(5, dtype=np.int64), date_approved=x.moments(t[:5]),
                     approved_by=x.staff_pick(rng, 5), weight_total=rng.integers(1, 20, 5)))
    out.append(table("erm_counter_logs", erm_counter_log_id=sequence(2), borrowernumber=x.staff_pick(rng, 2),
                     counter_files_id=sequence(2), usage_data_provider_id=np.ones(2, dtype=np.int64),
                     importdate=x.moments(t[:2]), filename=objects(["usage_2024.csv", "usage_2025.csv"]),
                     logdetails=np.full(2, "imported", dtype=object)))
    out.append(table("uploaded_files", id=sequence(3), hashvalue=objects(hex_tokens(rng, 3, 40)),
                     filename=objects(["cover1.jpg", "cover2.jpg", "logo.png"]), dir=np.full(3, "covers", dtype=object),
                     filesize=np.full(3, 2048), dtcreated=x.moments(t[:3]),
                     uploadcategorycode=np.full(3, "COVER", object), owner=x.staff_pick(rng, 3),
                     public=np.ones(3, dtype=np.int64), permanent=np.ones(3, dtype=np.int64)))
    return out


BUILDERS = [
    (("additional_contents", "additional_contents_localizations", "opac_news"), news),
    (("saved_sql", "background_jobs"), reports_and_jobs),
    (("aqbudgets", "aqbudgetborrowers", "aqbasket", "aqbasketusers", "aqorders", "aqorder_users"), acquisitions),
    (("cash_register_actions", "tags_approval", "erm_counter_logs", "uploaded_files"), desk),
]
