"""`async def` task bodies on gevent: one event loop per greenlet, all cooperative.

gevent must monkey-patch before anything else is imported, so the gevent cases run in a
fresh interpreter; the assertions are on what it prints, never on how long it took.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

from celeryapp.asyncsupport import run_coroutine

GEVENT_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()

    import asyncio, json, time
    import gevent
    from celeryapp.asyncsupport import run_coroutine

    arrived = 0

    async def ticker():
        for i in range(3):
            await asyncio.sleep(0.01)
            yield i

    async def body(n):
        global arrived
        loop = asyncio.get_running_loop()
        started = time.time()
        arrived += 1
        # Finish only once every party has started: possible only if all run at once.
        while arrived < n:
            await asyncio.sleep(0.01)
            assert asyncio.get_running_loop() is loop
        ticks = [t async for t in ticker()]
        await asyncio.sleep(0.2)
        return {"started": started, "finished": time.time(), "ticks": ticks}

    async def boom():
        await asyncio.sleep(0.01)
        raise RuntimeError("from the coroutine")

    def fails():
        try:
            run_coroutine(boom())
        except RuntimeError as exc:
            return str(exc)

    n = 100
    runs = [gevent.spawn(run_coroutine, body(n)) for _ in range(n)]
    failing = gevent.spawn(fails)
    gevent.joinall(runs + [failing], timeout=120, raise_error=True)
    out = [g.value for g in runs]
    print(json.dumps({
        "done": sum(1 for g in runs if g.successful()),
        "last_start": max(o["started"] for o in out),
        "first_end": min(o["finished"] for o in out),
        "ticks": out[0]["ticks"],
        "error": failing.value,
    }))
    """
)


def test_concurrent_async_bodies_overlap_under_gevent() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["done"] == 100
    assert result["last_start"] < result["first_end"]  # one instant inside every run
    assert result["ticks"] == [0, 1, 2]
    assert result["error"] == "from the coroutine"


def test_without_gevent_it_is_plain_asyncio() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert run_coroutine(add(1, 2)) == 3
    assert run_coroutine(add(2, 3)) == 5
