"""The IMLS Public Libraries Survey (PLS) circulation and user figures an ILS can answer.

As the state data coordinator enters them for one reporting year (here the
calendar year; a library whose fiscal year differs passes its own days to
``patronguard stats``). Definitions, from the PLS data element definitions
(IMLS, *Public Libraries Survey: Data File Documentation and User's Guide*,
"Library Collections / Services" items, FY2016 onwards):

* **553 Physical item circulation** — the total annual circulation of all
  physical library materials of all types, *including renewals*. From Koha's
  ``statistics`` log: every ``issue`` and ``renew`` event dated in the year
  (a renewal counts in the year it happened).
* **551 Circulation of children's materials** — the total annual circulation
  of all children's materials in all formats, including renewals. Which
  materials are children's is the library's own mapping of collections
  (``ccode``) and item types (configuration: :class:`ChildrensMaterials`).
* **550 Total circulation of materials** — 553 plus 552 (use of electronic
  materials: e-books, e-audio, … lent through vendors' platforms). Koha does
  not hold 552, so 550 here is 553 and the note says to add the vendors' figures.
* **Registered users (REGBOR)** — a library user who has applied for and
  received an identification number or card from the public library …; the
  files should have been purged within the past three years. Counted as the
  patrons enrolled by the end of the year whose card did not expire before
  the year two years earlier (expiry year ≥ year − 2), excluding Koha's
  AnonymousPatron — live patrons plus those retention removed since
  (``stats_patrons_removed`` keeps their enrolment and expiry year).

Counts use the merge rule of :mod:`.query`, so they come out the same before
and after a retention run.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Engine

from ..errors import InputError
from ..ils.piimap import PiiMap
from ..ils.shape import IlsShape
from ..store import Store
from .query import count_events
from .request import FILTER_VALUE, StatsRequest

DEFINITIONS = {
    "550": "Total circulation of materials: physical item circulation (553) plus use of electronic material (552).",
    "551": "Circulation of children's materials: total annual circulation of all children's materials in all "
           "formats, including renewals.",
    "553": "Physical item circulation: total annual circulation of all physical library materials of all types, "
           "including renewals.",
    "REGBOR": "Registered users: library users who applied for and received an identification number or card "
              "from the library; files purged within the past three years.",
}
SOURCE = "IMLS Public Libraries Survey, Data File Documentation and User's Guide (data element definitions)"


class ChildrensMaterials(BaseModel):
    """Which materials are children's (PLS 551): collections and item types, as the ILS codes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collections: list[str] = Field(default=["JFIC", "JNF"], examples=[["JFIC", "JNF", "JPIC"]])
    item_types: list[str] = Field(default=[], examples=[["JBOOK"]])


def load_childrens_materials(path: str | Path | None) -> ChildrensMaterials:
    """The mapping from a YAML file (``collections: [..]``, ``item_types: [..]``), or the built-in default."""
    if path is None:
        return ChildrensMaterials()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        mapping = ChildrensMaterials(**(data or {}))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the children's materials mapping ({exc.strerror})") from None
    except (yaml.YAMLError, TypeError) as exc:
        raise InputError(f"{path}: not a YAML mapping of collections and item_types ({type(exc).__name__})") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InputError(f"{path}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    for code in mapping.collections + mapping.item_types:
        if not FILTER_VALUE.match(code):
            raise InputError(f"{path}: {code[:20]!r} is not a collection or item type code")
    return mapping


@dataclass
class PlsFigures:
    year: int
    total_circulation_550: int
    childrens_circulation_551: int
    physical_circulation_553: int
    registered_users: int
    childrens_materials: dict
    definitions: dict = field(default_factory=lambda: dict(DEFINITIONS))
    source: str = SOURCE
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _check_year(year: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 9998:
        raise InputError(f"--year: {str(year)[:10]!r} is not a year (YYYY)")
    return year


def registered_users(ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, year: int) -> int:
    """Live patrons plus those retention removed, enrolled by the end of ``year``, card current within 3 years."""
    patrons = shape.tables[pii_map.patron_table]
    enrolled = sa.func.coalesce(sa.extract("year", patrons.c.dateenrolled), 0)
    expiry = sa.extract("year", patrons.c.dateexpiry)
    live = sa.select(sa.func.count()).select_from(patrons).where(
        enrolled <= year, sa.or_(patrons.c.dateexpiry.is_(None), expiry >= year - 2))
    if shape.anonymous_patron is not None:
        live = live.where(patrons.c[pii_map.patron_key] != shape.anonymous_patron)
    removed = store["stats_patrons_removed"]
    gone = sa.select(sa.func.coalesce(sa.func.sum(removed.c.patrons), 0)).where(
        removed.c.enrolled_year <= year, sa.or_(removed.c.expiry_year == 0, removed.c.expiry_year >= year - 2),
        removed.c.removed_as == "expired")  # a copy of a patron deleted in Koha was not a registered user here
    with ils.connect() as conn:
        n_live = int(conn.execute(live).scalar() or 0)
    with store.engine.connect() as conn:
        n_gone = int(conn.execute(gone).scalar() or 0)
    return n_live + n_gone


def pls_figures(ils: Engine, shape: IlsShape, pii_map: PiiMap, store: Store, year: int, hash_key: bytes,
                childrens: ChildrensMaterials | None = None) -> PlsFigures:
    """The PLS figures of ``year``; the same before and after retention (see :mod:`.query`)."""
    year = _check_year(year)
    childrens = childrens or ChildrensMaterials()
    request = StatsRequest(by=["itemtype", "collection"], requester="pls", **{
        "from": dt.date(year, 1, 1), "to": dt.date(year, 12, 31)})
    cells = count_events(ils, shape, pii_map, store, request, hash_key, "statistics", ("issue", "renew"))
    physical = sum(cells.values())
    kids_collections, kids_types = set(childrens.collections), set(childrens.item_types)
    children = sum(n for (itemtype, collection), n in cells.items()
                   if collection in kids_collections or itemtype in kids_types)
    return PlsFigures(
        year=year, total_circulation_550=physical, childrens_circulation_551=children,
        physical_circulation_553=physical, registered_users=registered_users(ils, shape, pii_map, store, year),
        childrens_materials=childrens.model_dump(),
        notes=["550 = 553 here: electronic materials (552) are not in the ILS; add the e-content vendors' "
               "figures for the year before entering 550.",
               "Circulation counts issue and renewal events by the day they happened (Koha's statistics log)."])
