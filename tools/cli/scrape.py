"""GET /metrics of every service replica the command knows (discovery file or
LINGUA_METRICS_URLS), at once, into one Snapshot."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from lingua_common.metrics.aggregate import Snapshot
from lingua_common.ops.client import OpsError


async def _fetch(session: aiohttp.ClientSession, url: str) -> str:
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise OpsError(f"{url} answered HTTP {response.status}")
            return await response.text()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise OpsError(f"metrics at {url} did not answer ({error.__class__.__name__})") from None


async def scrape_snapshot(urls: tuple[str, ...], timeout_s: float) -> Snapshot:
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        texts = await asyncio.gather(*(_fetch(session, url) for url in urls))
    return Snapshot.of_texts(time.time_ns() // 1_000_000, dict(zip(urls, texts, strict=True)))
