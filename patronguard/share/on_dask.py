"""Judging an export's chunks on an existing Dask cluster from the command line (``patronguard share
--dask-address``): one Dask task per chunk, each worker building its scanner once
(:func:`~patronguard.share.judge.judge_chunk_on_worker`), at most two chunks per worker in flight, results
in file order. (The ``share-export`` flow does the same through Prefect's Dask task runner.) The workers
need patronguard installed; chunks travel to them over Dask's connections, in memory only."""
from __future__ import annotations

from collections import deque
from typing import Iterator

from .judge import JudgedChunk, ReleaseScope, judge_chunk_on_worker, judge_key


def dask_mapper(address: str, *, per_worker: int = 2):
    """A chunk mapper (:data:`patronguard.share.gate.ChunkMapper`) for the Dask scheduler at ``address``."""
    def mapper(chunks, settings, known, scope: ReleaseScope) -> Iterator[JudgedChunk]:
        from distributed import Client

        from ..errors import TransientError

        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise TransientError(f"--dask-address: no Dask scheduler answers at {address} "
                                           f"({type(exc).__name__})") from None
        with client:
            in_flight = per_worker * max(1, len(client.scheduler_info().get("workers", {})))
            key = judge_key(settings, known, scope)
            waiting: deque = deque()
            for chunk in chunks:
                waiting.append(client.submit(judge_chunk_on_worker, chunk, key, settings, known, scope, pure=False))
                while len(waiting) >= in_flight:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
    return mapper
