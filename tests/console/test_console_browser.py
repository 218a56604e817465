"""The console page in a real browser (Debian's chromium, driven by Playwright) against
the whole suite as processes — two dispatcher, two gateway and two console replicas —
with the simulated fleet: the numbers the page shows are the services' numbers, a node
drained from the page gets no more jobs, and the other console replica shows the same.

A screenshot is saved beside the test's files; with LINGUA_SAVE_SCREENSHOT=1 it also
replaces docs/console.png, the one the README shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from lingua.pool.v1 import pool_service_pb2 as ppb
from lingua.pool.v1 import pool_service_pb2_grpc as pgrpc
from lingua.registry.v1 import registry_service_pb2 as rpb
from lingua.registry.v1 import registry_service_pb2_grpc as rgrpc
from lingua_common.ops.views import status_name
from tests.metrics_scrape import scrape
from tools.fleet import ClientConfig, FakeClient, FakeNode, NodeConfig
from tools.launcher.stack import Stack, StackConfig

CHROMIUM = Path("/usr/bin/chromium")
# The system browser, headless, touching nothing outside this machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "docs" / "console.png"
PAIRS = (("zh", "en"), ("en", "zh"))
NODES = 4
WAIT_MS = 30_000

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI runs the console's browser test: run scripts/ensure_chromium.sh")
    pytest.skip(
        "Debian's chromium is not installed (scripts/ensure_chromium.sh)", allow_module_level=True
    )

from playwright.async_api import Page, async_playwright, expect  # noqa: E402


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(
        StackConfig(
            gateway_ws_ports=(0, 0),
            dispatchers=2,
            console_http_ports=(0, 0),
            run_dir=tmp_path_factory.mktemp("console-stack"),
            env={"LINGUA_METRICS_PUBLISH_MS": "1000", "LINGUA_CONSOLE_SAMPLE_MS": "1000"},
        )
    ).start()
    yield running
    codes = running.stop()
    assert all(code == 0 for code in codes.values()), codes


@pytest.fixture
async def fleet(stack: Stack) -> AsyncIterator[list[FakeNode]]:
    nodes = [
        FakeNode(
            NodeConfig(
                url=stack.gateway_urls[i % 2],
                pairs=PAIRS,
                name=f"node-{i}",
                processing_ms=30,
                seed=i,
            )
        )
        for i in range(NODES)
    ]
    for node in nodes:
        node.start()
    for node in nodes:
        await node.wait_registered(10)
    yield nodes
    for node in nodes:
        await node.stop()


async def run_clients(stack: Stack, utterances: int) -> int:
    """Two clients (one per gateway, one per direction); the answers they got."""
    clients = [
        FakeClient(
            ClientConfig(
                url=stack.gateway_urls[i],
                src_lang=src,
                tgt_lang=tgt,
                name=f"browser-c{i}",
                utterances=utterances,
                interval_s=0.05,
            )
        )
        for i, (src, tgt) in enumerate(PAIRS)
    ]
    reports = [await client.run() for client in clients]
    assert all(r.answered == r.sent == utterances and r.wrong == 0 for r in reports), reports
    return sum(r.answered for r in reports)


async def registry_view(stack: Stack) -> dict[str, str]:
    assert stack.registry is not None
    async with grpc.aio.insecure_channel(stack.registry.grpc_address) as channel:
        reply = await rgrpc.RegistryServiceStub(channel).ListNodes(rpb.ListNodesRequest())
    return {n.node_id: status_name(n.status) for n in reply.nodes}


async def pool_members(stack: Stack) -> dict[str, int]:
    assert stack.pool is not None
    async with grpc.aio.insecure_channel(stack.pool.grpc_address) as channel:
        reply = await pgrpc.PoolServiceStub(channel).ListPools(ppb.ListPoolsRequest())
    return {f"{p.pair.src}→{p.pair.tgt}": len(p.node_ids) for p in reply.pools}


async def completed_jobs(stack: Stack) -> int:
    samples = await scrape(*(d.ports["metrics"] for d in stack.dispatchers))
    return int(samples.get("lingua_jobs_finished_total", state="completed"))


async def open_console(page: Page, url: str, problems: list[str]) -> None:
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    await page.goto(url)
    await expect(page.get_by_test_id("live-state")).to_have_text("live", timeout=WAIT_MS)


async def test_the_console_page_shows_the_fleet_and_drains_a_node(
    stack: Stack, fleet: list[FakeNode], tmp_path: Path
) -> None:
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await open_console(page, stack.console_urls[0] + "/", problems)

        # Nodes: the rows are the registry's nodes, with their statuses and pairs.
        statuses = await registry_view(stack)
        rows = page.locator("#nodes tbody tr")
        await expect(rows).to_have_count(NODES, timeout=WAIT_MS)
        await expect(page.get_by_test_id("tile-nodes-ready")).to_have_text(str(NODES))
        shown = {
            await row.get_attribute("data-node-id"): await row.get_attribute("data-status")
            for row in await rows.all()
        }
        assert shown == statuses
        for row in await rows.all():
            await expect(row).to_contain_text("en→zh, zh→en")
            await expect(row.get_by_test_id("node-running")).to_have_text("0/4")
        # Pools: one row per pair with the pool's members, plus the two-way pair.
        members = await pool_members(stack)
        for pair, count in members.items():
            row = page.locator(f'#pools tbody tr[data-pair="{pair}"]')
            await expect(row.locator("td").nth(1)).to_have_text(str(count))
            await expect(row.get_by_test_id("pool-free")).to_have_text(str(4 * count))
            await expect(row.get_by_test_id("pool-waiting")).to_have_text("0")
        await expect(page.locator('#pools tbody tr[data-pair="en↔zh"]')).to_have_count(1)
        await expect(page.get_by_test_id("tile-dispatchers")).to_have_text("2")
        await expect(page.get_by_test_id("tile-gateways")).to_have_text("2")
        await expect(page.get_by_test_id("tile-node-sockets")).to_have_text(str(NODES))

        # Load: once the chart has a point, every job that follows is counted on the page
        # exactly as the two dispatchers count it, and as the clients got answers.
        await expect(page.get_by_test_id("tile-completed")).to_have_text("0", timeout=WAIT_MS)
        answered = await run_clients(stack, utterances=12)
        assert await completed_jobs(stack) == answered
        await expect(page.get_by_test_id("tile-completed")).to_have_text(
            str(answered), timeout=WAIT_MS
        )
        await expect(page.get_by_test_id("tile-failed")).to_have_text("0")

        # Drain one node from the page (two clicks: arm, confirm).
        drained = fleet[0]
        button = page.locator(f'#nodes tbody tr[data-node-id="{drained.node_id}"]').get_by_test_id(
            "drain"
        )
        await button.click()
        await expect(button).to_have_text("confirm drain")
        await (
            page.locator(f'#nodes tbody tr[data-node-id="{drained.node_id}"]')
            .get_by_test_id("drain")
            .click()
        )
        drained_row = page.locator(f'#nodes tbody tr[data-node-id="{drained.node_id}"]')
        await expect(drained_row).to_have_attribute("data-status", "draining", timeout=WAIT_MS)
        await expect(drained_row).to_contain_text("draining: drained from the console")
        assert (await registry_view(stack))[drained.node_id or ""] == "draining"
        await expect(page.get_by_test_id("tile-nodes-ready")).to_have_text(str(NODES - 1))

        before = {node.node_id: node.stats.assigned for node in fleet}
        answered_after = await run_clients(stack, utterances=12)
        after = {node.node_id: node.stats.assigned for node in fleet}
        assert after[drained.node_id] == before[drained.node_id]
        assert sum(after.values()) - sum(before.values()) == answered_after
        await expect(page.get_by_test_id("tile-completed")).to_have_text(
            str(answered + answered_after), timeout=WAIT_MS
        )

        # The other console replica shows the same fleet and the same history.
        other = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await open_console(other, stack.console_urls[1] + "/", problems)
        await expect(
            other.locator(f'#nodes tbody tr[data-node-id="{drained.node_id}"]')
        ).to_have_attribute("data-status", "draining", timeout=WAIT_MS)
        await expect(other.get_by_test_id("tile-completed")).to_have_text(
            str(answered + answered_after), timeout=WAIT_MS
        )

        shot = tmp_path / "console.png"
        await page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("LINGUA_SAVE_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)
        await browser.close()
    assert not problems, problems
