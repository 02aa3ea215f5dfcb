"""expbook adapter for the peer harness (../shared/bench/peers): the same functions as its
``adapters/sqlite_raw.py``. Copy this file into the harness's ``adapters/`` folder; see
``README.md`` next to it, or let ``bench/run_peers.sh`` do the wiring.

Only expbook's public API is used: ``expbook.init(..., store=...)``, ``run.log(metrics,
step=...)``, ``run.finish()`` to write (``finish`` returns once every point is committed), and
``expbook.open_store(store)`` to read: the leaderboard comes from the store's per-(run, key)
summaries, which never scan points, and a series from ``backend.read_series_lists`` (the
chunks decoded to Python numbers with the standard library: numpy is never imported).
"""

import os
import sqlite3

NAME = "expbook"
QUERY_API = (
    "expbook.open_store(store).backend: metric_summaries(keys=[metric]) + list_runs() "
    "(per-(run, key) summaries, no point scan); series: read_series_lists(run_id, [key])"
)
PROJECT = "bench"

_store = None  # the store folder (the harness's --store dir; expbook.db is created in it)
_books = {}  # open read handles by store path


def version():
    import expbook

    return {"expbook": expbook.__version__, "sqlite3": sqlite3.sqlite_version}


def setup(store, readonly=False, **opts):
    global _store
    import expbook  # noqa: F401  (the import belongs to setup, as for the other trackers)

    _store = os.path.abspath(store)
    os.environ.pop("EXPBOOK_STORE", None)
    if not readonly:
        os.makedirs(_store, exist_ok=True)


def start_run(name, config):
    import expbook

    return expbook.init(project=PROJECT, name=name, config=config, store=_store)


def log(handle, step, metrics):
    handle.log(metrics, step=step)


def finish(handle):
    handle.finish()  # drains the run's buffer and commits before returning


def teardown():
    for book in _books.values():
        book.close()
    _books.clear()


def _book(store):
    import expbook

    store = os.path.abspath(store)
    book = _books.get(store)
    if book is None:
        book = _books[store] = expbook.open_store(store)
    return book


def leaderboard(store, metric):
    be = _book(store).backend
    names = {r.id: r.name for r in be.list_runs()}
    rows = []
    for run_id, by_key in be.metric_summaries(keys=[metric]).items():
        s = by_key[metric]
        rows.append((names[run_id], s.min_value, s.min_step, s.last_value))
    rows.sort(key=lambda r: r[1])
    return rows


def read_series(store, run, key):
    book = _book(store)
    run_id = book.run(run, project=PROJECT).id
    s = book.backend.read_series_lists(run_id, [key]).get(key)  # Python numbers, no numpy
    if s is None:
        return []
    return list(zip(s.steps, s.values))
