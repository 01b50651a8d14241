"""Every flow is retry-safe: running it again for the same input (Prefect's Retry button) changes nothing more.

Each test runs a flow (or the core function its task wraps) twice for the same input and compares the store —
every table, audit log included — and, where the flow acts on it, the ILS, after the second run with after the
first. Also: an old store whose obligations a retried decision opened twice migrates (the duplicates closed).
"""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import sqlalchemy as sa

from conftest import ROOT, SMALL_SPEC
from dbs import fresh_database, migrate_store_to
from patronguard.authz import init_director_key, sign_request
from patronguard.gateway import load_request, parse_request
from patronguard.policy import load_policy
from patronguard.store import opened_store
from patronguard.workflow import requests as wf
from patronguard.workflow.service import add_evidence, decide_stored, submit

WESTPORT = load_policy(ROOT / "policy/westport.yaml")
WESTCHESTER = load_policy(ROOT / "policy/westchester.yaml")
EXAMPLES = ROOT / "examples/requests"


def snapshot(url: str, *, skip: tuple[str, ...] = ()) -> dict[str, list]:
    """Every row of every table, sorted (a database's whole content, comparable across runs)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {name: sorted((tuple(str(v) for v in row) for row in conn.execute(sa.text(f"SELECT * FROM {name}"))))
                    for name in names if name not in skip}
    finally:
        engine.dispose()


def _sign(request, key, *, action=None):
    return sign_request(request, signer="director", scope=[action or request.action],
                        expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1),
                        private_key_path=key.private_key_path)


@pytest.fixture
def director(tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    return init_director_key()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_deciding_a_stored_request_again_changes_nothing(backend, director, tmp_path):
    """Legal process (holds, referral obligations), then counsel and a signed authorization (a new input: decided
    once more), each decided twice: the second time returns the recorded decision and writes nothing."""
    with fresh_database(backend, tmp_path) as store_url:
        request = load_request(EXAMPLES / "westport-s4-court-order.json")      # handled by the Director
        with opened_store(store_url) as store:
            request_id = submit(store, request, actor="desk-3")
            first = decide_stored(store, request_id, WESTPORT, actor="desk-3")
        after_first = snapshot(store_url)
        assert first.outcome == "pending" and len(after_first["obligations"]) >= 1
        with opened_store(store_url) as store:
            again = decide_stored(store, request_id, WESTPORT, actor="desk-3")
        assert snapshot(store_url) == after_first
        assert again.to_dict() == first.to_dict()

        with opened_store(store_url) as store:     # counsel's advice and the Director's signature: a new input
            updated = add_evidence(store, request_id, actor="director", counsel="advised_release")
            (tmp_path / "auth.json").write_text(json.dumps(_sign(updated, director)))
            add_evidence(store, request_id, actor="director", authorization_path=str(tmp_path / "auth.json"))
            final = decide_stored(store, request_id, WESTPORT, actor="director")
        assert final.outcome == "allow"
        after_final = snapshot(store_url)
        with opened_store(store_url) as store:
            assert decide_stored(store, request_id, WESTPORT, actor="director").to_dict() == final.to_dict()
            assert [d["decision"]["outcome"] for d in wf.decisions(store, request_id)] == ["pending", "allow"]
            assert len(wf.holds(store)) == 1
        assert snapshot(store_url) == after_final


def test_two_decisions_of_the_same_request_at_once_record_one(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    with opened_store(store_url) as store:
        request_id = submit(store, load_request(EXAMPLES / "westport-s4-court-order.json"), actor="desk-3")
    results, errors = [], []

    def decide_once():
        try:
            with opened_store(store_url) as store:
                results.append(decide_stored(store, request_id, WESTPORT, actor="desk-3").to_dict())
        except Exception as exc:    # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=decide_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 2 and results[0] == results[1]
    with opened_store(store_url) as store, store.engine.connect() as conn:
        assert len(wf.decisions(store, request_id)) == 1
        kinds = [k for (k,) in conn.execute(sa.text("SELECT kind FROM audit_events"))]
        codes = [o["code"] for o in wf.open_obligations(store)]
    assert kinds.count("decision") == 1 and len(codes) == len(set(codes))


def test_the_disclosure_flow_run_twice_changes_nothing(prefect_harness, tmp_path, monkeypatch):
    from flows.disclosure_request import disclosure_request

    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("PATRONGUARD_STORE_URL", store_url)
    doc = json.loads((EXAMPLES / "westchester-s6-emergency.json").read_text())
    with opened_store(store_url) as store:
        request_id = submit(store, parse_request(doc), actor="desk-3")
    policy = str(ROOT / "policy/westchester.yaml")
    first = disclosure_request(request_id, actor="Ann Desk", policy_path=policy)
    after_first = snapshot(store_url)
    assert after_first["obligations"]
    second = disclosure_request(request_id, actor="Ann Desk", policy_path=policy)
    assert second == first
    assert snapshot(store_url) == after_first


def _old_store_with_duplicate_obligations(url: str) -> tuple[int, int, int]:
    """A store at migration 5 whose request got the same two obligations twice (a retried decision)."""
    engine = sa.create_engine(url)
    try:
        migrate_store_to(engine, 5)
        now = dt.datetime(2026, 7, 1, 12, 0)
        rows = [("r-1", "refer_to_director", "Refer to the Director."), ("r-1", "refer_to_counsel", "Consult counsel."),
                ("r-1", "refer_to_director", "Refer to the Director."), ("r-1", "refer_to_counsel", "Consult counsel."),
                ("r-2", "refer_to_director", "Refer to the Director.")]
        with engine.begin() as conn:
            for request_id, code, text in rows:
                conn.execute(sa.text("INSERT INTO obligations (request_id, code, text, opened_at) "
                                     "VALUES (:r, :c, :t, :o)"), {"r": request_id, "c": code, "t": text, "o": now})
        return 1, 3, 5
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_old_store_with_duplicate_obligations_migrates(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        _old_store_with_duplicate_obligations(url)
        with opened_store(url) as store:
            rows = {o["obligation_id"]: o for o in
                    (dict(r._mapping) for r in store.engine.connect().execute(sa.select(store["obligations"])))}
            assert sorted(o["obligation_id"] for o in wf.open_obligations(store)) == [1, 2, 5]
            assert rows[3]["closed_by"] == rows[4]["closed_by"] == "store migration 6"
            assert rows[3]["note"].startswith("duplicate of obligation 1")
            assert rows[4]["note"].startswith("duplicate of obligation 2")
            # the key is enforced from now on: one decision opens an obligation once
            with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
                for _ in range(2):
                    conn.execute(store["obligations"].insert().values(
                        request_id="r-3", code="bill", text="Bill.", opened_at=dt.datetime(2026, 7, 1),
                        decision_sha256="ab" * 32))


def _purge_authorization(store_url, scope, key, *, execute):
    from patronguard.workflow.purge_request import new_purge_request

    with opened_store(store_url) as store:
        request = parse_request(new_purge_request(store, WESTCHESTER, scope, execute=execute))
    return _sign(request, key)


def test_the_director_purge_flow_retried_changes_nothing(prefect_harness, director, small_ils_sqlite_copy, tmp_path,
                                                          monkeypatch):
    from flows.director_purge import director_purge

    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("PATRONGUARD_ILS_URL", ils_url)
    monkeypatch.setenv("PATRONGUARD_STORE_URL", store_url)
    policy = str(ROOT / "policy/westchester.yaml")
    good = _purge_authorization(store_url, "older-than:30", director, execute=True)
    first = director_purge({"kind": "older-than", "days": 30}, "Dana Director", authorization=good, confirm=True,
                           policy_path=policy)
    assert first["outcome"] == "allow" and first["batches"] > 0
    store_after, ils_after = snapshot(store_url), snapshot(ils_url)
    again = director_purge({"kind": "older-than", "days": 30}, "Dana Director", authorization=good, confirm=True,
                           policy_path=policy)
    assert again["retried"] and again["batches"] == first["batches"] and again["done"] == first["done"]
    assert snapshot(store_url) == store_after and snapshot(ils_url) == ils_after

    once = _purge_authorization(store_url, "older-than:30", director, execute=False)   # a dry run's, used once
    shown = director_purge({"kind": "older-than", "days": 30}, "Dana Director", authorization=once, policy_path=policy)
    store_after = snapshot(store_url)
    retried = director_purge({"kind": "older-than", "days": 30}, "Dana Director", authorization=once,
                             policy_path=policy)
    assert retried["dry_run"] and retried["plan"] == shown["plan"]
    assert snapshot(store_url) == store_after and snapshot(ils_url) == ils_after


def test_the_purge_task_retried_on_postgresql_changes_nothing(director, tmp_path):
    from patronguard.ils import LibrarySpec, init_ils
    from tasks.gateway import purge_with_authorization

    with fresh_database("postgresql", tmp_path) as ils_url, fresh_database("postgresql", tmp_path) as store_url:
        init_ils(ils_url, LibrarySpec(**{**SMALL_SPEC, "patrons": 100, "loans": 1500}))
        good = _purge_authorization(store_url, "older-than:30", director, execute=True)
        first = purge_with_authorization.fn("older-than:30", good, WESTCHESTER, ils_url, store_url, True,
                                            "Dana Director", None)
        assert first["outcome"] == "allow" and first["batches"] > 0
        store_after, ils_after = snapshot(store_url), snapshot(ils_url)
        again = purge_with_authorization.fn("older-than:30", good, WESTCHESTER, ils_url, store_url, True,
                                            "Dana Director", None)
        assert again["retried"] and again["done"] == first["done"]
        assert snapshot(store_url) == store_after and snapshot(ils_url) == ils_after


#: What a second nightly run adds by design: its own run record and audit events, the lock holder's name.
RUN_RECORDS = ("pipeline_runs", "audit_events", "store_settings")


def test_the_nightly_flow_run_again_for_the_same_day_changes_no_data(prefect_harness, small_ils_sqlite_copy, tmp_path,
                                                                     monkeypatch):
    from flows.nightly_retention import nightly_retention

    ils_url, store_url = f"sqlite:///{small_ils_sqlite_copy}", f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("PATRONGUARD_ILS_URL", ils_url)
    monkeypatch.setenv("PATRONGUARD_STORE_URL", store_url)
    kwargs = dict(policy_path=str(ROOT / "policy/westchester.yaml"), as_of=SMALL_SPEC["until"].isoformat(),
                  batch_size=500, report_dir=str(tmp_path / "reports"))
    first = nightly_retention(**kwargs)
    assert first.verification.ok and first.batch_ids
    store_after, ils_after = snapshot(store_url, skip=RUN_RECORDS), snapshot(ils_url)
    second = nightly_retention(**kwargs)
    assert second.verification.ok and not second.batch_ids
    assert snapshot(store_url, skip=RUN_RECORDS) == store_after     # warehouse, ledger, holds, requests …
    assert snapshot(ils_url) == ils_after
