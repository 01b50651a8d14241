"""After an accident: a killed run's delete batches are completed or redone, a lost patron-hash key is not recreated."""
from __future__ import annotations


import sqlalchemy as sa

from patronguard.ils.piimap import builtin_pii_map
from patronguard.policy import load_policy
from patronguard.retention.engine import make_context, recover_pending_batches
from patronguard.retention.ledger import Deltas
from patronguard.retention.report import open_ils
from patronguard.store import open_store

POLICY = "policy/westchester.yaml"


def _prepared_delete(ctx, keys: list[int]) -> str:
    deltas = Deltas()
    deltas.count("action_logs", "deleted", len(keys))
    return ctx.ledger.prepare(run_id="a-killed-run", table="action_logs", action="delete", scope="schedule",
                              selector={"keys": keys}, deltas=deltas, row_count=len(keys))


def test_delete_batches_are_completed_when_the_ils_committed_them(small_ils_sqlite_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("PATRONGUARD_HASH_KEY", "5a" * 32)
    engine, shape = open_ils(f"sqlite:///{small_ils_sqlite_copy}", write=True)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    ctx = make_context(engine, shape, builtin_pii_map("koha"), load_policy(POLICY), store, frozenset(), 100)
    logs = shape.tables["action_logs"]
    with engine.begin() as conn:
        ids = conn.execute(sa.select(logs.c.action_id).order_by(logs.c.action_id).limit(30)).scalars().all()
    committed, rolled_back, thinned = ids[:10], ids[10:20], ids[20:30]
    batches = {name: _prepared_delete(ctx, keys)
               for name, keys in (("committed", committed), ("rolled_back", rolled_back), ("thinned", thinned))}
    with engine.begin() as conn:  # the killed run's first transaction committed; Koha's cleanup took 3 more rows
        conn.execute(logs.delete().where(logs.c.action_id.in_(committed + thinned[:3])))

    outcome = recover_pending_batches(ctx)

    assert outcome == {"completed": 1, "abandoned": 2}
    ledger = store["retention_batches"]
    with store.engine.connect() as conn:
        status = dict(conn.execute(sa.select(ledger.c.batch_id, ledger.c.status)).all())
    assert status[batches["committed"]] == "done"
    assert status[batches["rolled_back"]] == "abandoned"
    assert status[batches["thinned"]] == "abandoned"  # rows left: its own transaction did not commit
    engine.dispose()
    store.engine.dispose()


def test_a_lost_hash_key_is_not_recreated_once_the_store_knows_one(small_ils_sqlite_copy, tmp_path, monkeypatch):
    import pytest

    from patronguard.keys import SecretKeyError

    monkeypatch.delenv("PATRONGUARD_HASH_KEY", raising=False)
    monkeypatch.setenv("PATRONGUARD_VAR", str(tmp_path / "var"))
    key_file = tmp_path / "var" / "keys" / "patron-hash.key"
    engine, shape = open_ils(f"sqlite:///{small_ils_sqlite_copy}", write=True)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    pii_map, loaded = builtin_pii_map("koha"), load_policy(POLICY)
    make_context(engine, shape, pii_map, loaded, store, frozenset(), 100)  # first use: the key is created
    assert key_file.exists()
    key_file.unlink()  # lost (a restore without var/keys)

    with pytest.raises(SecretKeyError, match="patron-hash key is missing"):
        make_context(engine, shape, pii_map, loaded, store, frozenset(), 100)
    assert not key_file.exists()
    engine.dispose()
    store.engine.dispose()
