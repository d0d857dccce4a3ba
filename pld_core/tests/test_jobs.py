"""Background jobs: their record under /alive, progress included."""

from __future__ import annotations

import threading

from pld_core import ProcessStore, progress_reporter, run_job, timer


def test_a_job_reports_its_stage_and_progress_while_it_runs():
    store = ProcessStore()
    halfway, resume = threading.Event(), threading.Event()

    def work():
        import logging

        report = progress_reporter()
        with timer(logging.getLogger("test"), "Counting"):
            for done in range(1, 5):
                report(done=done, total=4)
                if done == 2:
                    halfway.set()
                    resume.wait(10)
        return "counted"

    thread, job_id = run_job(store, "count", work, params={"n": 4})
    assert halfway.wait(10)
    record = store["process_metadata"]["jobs"][job_id]
    assert record["status"] == "running"
    assert record["progress"] == {"stage": "Counting", "done": 2, "total": 4}
    progress_reporter()(done=99)  # this thread runs no job: its reports go nowhere
    assert record["progress"]["done"] == 2
    resume.set()
    thread.join(10)
    assert (record["status"], record["info"], record["params"]) == ("finished", "counted", {"n": 4})
    assert record["progress"] == {"stage": "Counting", "done": 4, "total": 4}
