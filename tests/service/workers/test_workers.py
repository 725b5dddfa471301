"""Workers: exclusive claims, lease expiry, retries, SIGTERM, and the crash test
(a worker killed mid-window and restarted yields exactly the uninterrupted alerts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.store import open_engine, session_factory
from detections.store.tables import Alert, Job
from service.workers import Worker
from service.workers import queue as jobs
from service.workers.tasks import JobContext
from tests.builders import make_dataset, make_events
from tests.detections.store.test_store import make_engine

ROOT = Path(__file__).resolve().parents[3]
TRAIN_WINDOWS = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    yield from make_engine(request.param, tmp_path)


def add_jobs(engine, n: int, kind: str = "score") -> list[int]:
    with Session(engine) as session, session.begin():
        return [
            jobs.enqueue(session=session, kind=kind, key=f"{kind}:{i}", payload={"window": i})
            for i in range(n)
        ]


def claim(engine, worker: str, lease: float = 60.0):
    with Session(engine) as session, session.begin():
        job = jobs.claim(session=session, kind="score", worker=worker, lease_seconds=lease)
        return None if job is None else (job.id, job.attempts)


def test_enqueue_is_idempotent(engine):
    first = add_jobs(engine, 3)
    assert add_jobs(engine, 3) == first
    with Session(engine) as session:
        assert len(session.scalars(select(Job)).all()) == 3


def test_claims_are_exclusive_and_expired_leases_are_reclaimed(engine):
    add_jobs(engine, 2)
    a, b = claim(engine, "w1", lease=0.5), claim(engine, "w2", lease=60)
    assert a and b and a[0] != b[0]
    assert claim(engine, "w3") is None  # both held
    time.sleep(0.7)
    again = claim(engine, "w3")
    assert again == (a[0], 2)  # w1's lease ran out: w3 gets it, second attempt
    with Session(engine) as session, session.begin():
        assert not jobs.finish(session=session, job_id=a[0], worker="w1")  # lost the lease
        assert jobs.finish(session=session, job_id=a[0], worker="w3")
        assert jobs.counts(session=session) == {"score": {"done": 1, "running": 1}}


@pytest.mark.postgres
def test_concurrent_claims_on_postgres_never_share_a_job(tmp_path):
    for engine in make_engine("postgres", tmp_path):
        add_jobs(engine, 40)
        got: dict[str, list[int]] = {}

        def drain(name: str, engine=engine, got=got) -> None:
            mine = got.setdefault(name, [])
            while (c := claim(engine, name)) is not None:
                mine.append(c[0])

        threads = [threading.Thread(target=drain, args=(f"t{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = [j for ids in got.values() for j in ids]
        assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 40


def test_failing_job_is_retried_then_left_failed(engine, tmp_path):
    with Session(engine) as session, session.begin():
        jobs.enqueue(session=session, kind="score", key="bad", payload={"data": str(tmp_path)})
    ctx = JobContext(sessions=session_factory(engine), data_dir=tmp_path)
    worker = Worker("score", ctx, lease_seconds=60, max_attempts=2, name="w")
    assert worker.run(exit_when_idle=True) == 0
    with Session(engine) as session:
        job = session.scalars(select(Job)).one()
        assert (job.status, job.attempts) == ("failed", 2)
        assert "window" in job.error  # the KeyError of the missing payload field


# -- real worker processes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 12-window data directory and an XGBoost model trained on its first 8 windows."""
    from ingest.graphs import GraphStore
    from models.xgb import XGBDetector

    root = tmp_path_factory.mktemp("trained")
    data = make_dataset(
        root / "data",
        make_events(800, hosts=10, users=5, span=12 * 3600, seed=1),
        window_seconds=3600,
    )
    store = GraphStore(data)
    model = XGBDetector(n_estimators=5, neg_passes=1, nthread=1)
    model.fit(store, store.windows[:TRAIN_WINDOWS])
    model.save(root / "xgb.model")
    return data, root / "xgb.model", store.windows[TRAIN_WINDOWS:]


def worker_env(db: str, data: Path, model: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOPWATCH_")}
    env.update(
        HOPWATCH_DATABASE__URL=db,
        HOPWATCH_DATA__DIR=str(data),
        HOPWATCH_DATA__WINDOW="3600",
        HOPWATCH_MODELS__XGB=str(model),
        HOPWATCH_DETECTION__THRESHOLDS=json.dumps({"xgb": 0.0}),  # every edge: many alerts
        HOPWATCH_LLM__ENGINE="template",
        HOPWATCH_WORKER__POLL_SECONDS="0.2",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def start_worker(env: dict[str, str], *args: str, pause: float = 0.0) -> subprocess.Popen:
    """``hopwatch worker score`` in a new process; ``pause``: seconds each job waits between
    scoring and committing (the test's own wrapper, slow_worker.py), to kill it there."""
    if pause:
        env = {**env, "HOPWATCH_TEST_PAUSE": str(pause)}
        cmd = [sys.executable, str(Path(__file__).with_name("slow_worker.py")), "worker", "score"]
    else:
        cmd = [sys.executable, "-m", "service.cli", "worker", "score"]
    cmd += list(args)
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def queue_windows(db: str, data: Path, windows: list[int]) -> None:
    engine = open_engine(db)
    from detections.store import migrate

    migrate(engine)
    with Session(engine) as session, session.begin():
        for w in windows:
            jobs.enqueue(
                session=session,
                kind="score",
                key=f"score:{w}",
                payload={"data": str(data), "window": w},
            )
    engine.dispose()


def job_states(db: str) -> dict[int, tuple[str, int]]:
    engine = open_engine(db)
    with Session(engine) as session:
        out = {j.payload["window"]: (j.status, j.attempts) for j in session.scalars(select(Job))}
    engine.dispose()
    return out


def alert_rows(db: str) -> list[tuple]:
    engine = open_engine(db)
    with Session(engine) as session:
        rows = [
            (
                a.key,
                a.time,
                a.user,
                a.severity,
                round(a.score, 9),
                json.dumps(a.scores, sort_keys=True),
            )
            for a in session.scalars(select(Alert).order_by(Alert.key))
        ]
    engine.dispose()
    return rows


def wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early:\n{proc.stdout.read()}")
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


def drain_in_process(db: str, data: Path, model: Path) -> int:
    """Run every pending score job in this process (the model is already imported here)."""
    engine = open_engine(db)
    ctx = JobContext(
        sessions=session_factory(engine),
        data_dir=data,
        window_seconds=3600,
        thresholds={"xgb": 0.0},
        model_paths={"xgb": model},
    )
    done = Worker("score", ctx, lease_seconds=60, name="inproc").run(exit_when_idle=True)
    engine.dispose()
    return done


@pytest.mark.slow
def test_worker_killed_mid_window_then_restarted_loses_and_duplicates_nothing(trained, tmp_path):
    """kill -9 in the middle of a window, restart; SIGTERM the restarted worker in the
    middle of a job (it finishes it, then exits 0); drain the rest; compare with a run
    that was never interrupted."""
    data, model, windows = trained
    reference, crashed = f"sqlite:///{tmp_path / 'ref.db'}", f"sqlite:///{tmp_path / 'crash.db'}"
    for db in (reference, crashed):
        queue_windows(db, data, windows)
    assert drain_in_process(reference, data, model) == len(windows)

    env = worker_env(crashed, data, model, HOPWATCH_WORKER__LEASE_SECONDS="1")
    slow = start_worker(env, pause=2.5)
    try:

        def one_done_one_running() -> bool:
            states = [s for s, _ in job_states(crashed).values()]
            return states.count("done") >= 1 and "running" in states

        wait_for(one_done_one_running, 120, slow)
        slow.send_signal(signal.SIGKILL)  # mid-window: scored, not yet committed
        slow.wait(10)
    finally:
        if slow.poll() is None:
            slow.kill()
    killed = [w for w, (s, _) in job_states(crashed).items() if s == "running"]
    assert len(killed) == 1
    time.sleep(1.2)  # let the dead worker's lease run out

    restarted = start_worker(env, pause=1.5)
    try:
        wait_for(lambda: job_states(crashed)[killed[0]] == ("running", 2), 120, restarted)
        restarted.send_signal(signal.SIGTERM)  # graceful: finish this job, take no other
        out, _ = restarted.communicate(timeout=60)
    finally:
        if restarted.poll() is None:
            restarted.kill()
    assert restarted.returncode == 0, out
    assert job_states(crashed)[killed[0]] == ("done", 2)
    drain_in_process(crashed, data, model)

    assert all(state == "done" for state, _ in job_states(crashed).values())
    want = alert_rows(reference)
    assert len(want) > 20
    assert alert_rows(crashed) == want
