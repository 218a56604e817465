"""The Celery reference's app: one trivial task, broker and results on one Redis URL.

Both the worker (`python -m celery -A bench.celery_app worker`) and the measuring
client (`python -m bench.celery_client`) import this module; the URL comes from the
environment (BENCH_CELERY_URL), e.g. the bench stack's private Redis, db 1.

The task is the fake nodes' "work" done the Celery way: echo the payload back,
optionally after sleeping the same processing delay.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery  # type: ignore[import-untyped,import-not-found,unused-ignore]

from bench.celery_reference import QUEUE, URL_ENV

TASK_NAME = "bench.echo"

URL = os.environ.get(URL_ENV, "")
if not URL:  # never a default server: the bench talks to its own private redis only
    raise RuntimeError(f"{URL_ENV} is not set (e.g. redis://127.0.0.1:PORT/1)")

app: Any = Celery("bench", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    task_send_sent_event=False,
    result_expires=600,  # the run's results must not outlive it by much
    task_default_queue=QUEUE,
)


def echo(payload: str, delay_ms: float = 0.0) -> str:
    if delay_ms > 0:
        time.sleep(delay_ms / 1000.0)
    return payload


echo_task: Any = app.task(name=TASK_NAME)(echo)
