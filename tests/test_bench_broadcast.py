"""bench/broadcast.py's rounds: raw posts and broadcasts take turns, each going first in
every other round, and the best of each side is compared (the sides faked here: the
fake OneBot API still starts, nothing is timed)."""

from __future__ import annotations

from bench import broadcast as bench


async def test_sides_alternate_and_the_best_of_each_is_compared(monkeypatch) -> None:
    order: list[str] = []
    raw_seconds = iter([2.0, 1.0, 4.0])  # the warm-up's figure is not one of them
    broadcast_seconds = iter([3.0, 2.5, 2.0])

    async def raw(url, n, conc, opts):  # type: ignore[no-untyped-def]
        if n == bench.TARGETS:
            order.append("raw")
            return next(raw_seconds), 0.5
        return 0.1, 0.1  # warm-up

    async def broadcast(url, n, conc, db_file, opts):  # type: ignore[no-untyped-def]
        order.append("broadcast")
        return next(broadcast_seconds), n, 0.8, 0

    monkeypatch.setattr(bench, "_raw", raw)
    monkeypatch.setattr(bench, "_broadcast", broadcast)
    r = await bench.broadcast(rounds=3)
    assert order == ["raw", "broadcast", "broadcast", "raw", "raw", "broadcast"]
    assert r["seconds"] == 2.0 and r["raw_per_s"] == bench.TARGETS / 1.0
    assert r["ratio"] == 0.5 and r["rounds"] == 3
