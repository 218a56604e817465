// The console page: signs in when needed, loads the chart history, then follows the
// server-sent event stream (/api/events) and redraws. No framework, no build step.

const $ = (sel) => document.querySelector(sel);
const HISTORY_SERIES = {
  jobs: [
    ["jobs_per_s", "created", "#0969da"],
    ["completed_per_s", "completed", "#1a7f37"],
    ["failed_per_s", "failed", "#cf222e"],
    ["no_node_per_s", "no node", "#9a6700"],
  ],
  dispatch: [
    ["dispatch_p50_ms", "p50", "#1a7f37"],
    ["dispatch_p95_ms", "p95", "#9a6700"],
    ["dispatch_p99_ms", "p99", "#cf222e"],
  ],
  result: [
    ["result_p50_ms", "p50", "#1a7f37"],
    ["result_p95_ms", "p95", "#9a6700"],
    ["result_p99_ms", "p99", "#cf222e"],
  ],
  nodes: [
    ["waiting", "waiting jobs", "#cf222e"],
    ["nodes_ready", "ready", "#1a7f37"],
    ["nodes_degraded", "degraded", "#9a6700"],
    ["nodes_draining", "draining", "#8250df"],
    ["nodes_offline", "offline", "#667085"],
  ],
};

const state = { session: null, history: null, charts: {}, source: null, pendingDrain: null };

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  if (init.method === "POST") {
    init.headers = { "Content-Type": "application/json", "X-Lingua-Console": "1", ...(init.headers || {}) };
  }
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { status: response.status, body };
}

function text(value, empty = "–") {
  return value === null || value === undefined ? empty : String(value);
}

function fixed(value, digits = 1) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function pairs(list) {
  return list.length ? list.map((p) => `${p.src}→${p.tgt}`).join(", ") : "–";
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  return seconds < 120 ? `${seconds.toFixed(0)} s ago` : `${(seconds / 60).toFixed(0)} min ago`;
}

// --- sign in ---------------------------------------------------------------------------

async function start() {
  const session = await api("/api/session");
  if (session.status === 401) {
    $("#login").hidden = false;
    $("#main").hidden = true;
    return;
  }
  state.session = session.body;
  document.body.classList.toggle("operator", !!state.session.operator);
  $("#who").textContent = state.session.auth_disabled
    ? "auth disabled (local)"
    : `tenant ${state.session.tenant}${state.session.operator ? " (operator)" : ""}`;
  $("#signout").hidden = state.session.auth_disabled;
  $("#login").hidden = true;
  $("#main").hidden = false;
  await loadHistory();
  follow();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await api("/api/login", { method: "POST", body: JSON.stringify({ token: $("#token").value }) });
  if (reply.status !== 200) {
    $("#login-error").textContent = text(reply.body && reply.body.error, "sign-in failed");
    return;
  }
  $("#token").value = "";
  start();
});

$("#signout").addEventListener("click", async () => {
  await api("/api/logout", { method: "POST" });
  if (state.source) state.source.close();
  location.reload();
});

// --- live stream -----------------------------------------------------------------------

function follow() {
  const source = new EventSource("/api/events");
  state.source = source;
  source.addEventListener("overview", (event) => {
    const live = $("#live");
    live.textContent = "live";
    live.className = "badge live";
    render(JSON.parse(event.data));
  });
  source.onerror = () => {
    const live = $("#live");
    live.textContent = "reconnecting…";
    live.className = "badge down";
    // EventSource reconnects by itself; the history is reloaded when it does.
    source.onopen = () => loadHistory();
  };
}

function render(view) {
  $("#updated").textContent = `updated ${new Date(view.at_ms).toLocaleTimeString()}`;
  const problems = $("#problems");
  problems.hidden = !view.problems.length;
  problems.textContent = view.problems.join(" · ");
  renderTiles(view);
  renderNodes(view);
  renderPools(view);
  renderFailures(view);
  if (view.point) appendPoint(view.point);
}

function renderTiles(view) {
  const by = view.by_status;
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  const running = view.nodes.filter((n) => n.status === "ready").reduce((a, n) => a + n.running, 0);
  const capacity = view.nodes.filter((n) => n.status === "ready").reduce((a, n) => a + n.max_jobs, 0);
  const load = view.load || {};
  const set = (id, value) => { document.querySelector(`[data-testid="${id}"]`).textContent = value; };
  set("tile-nodes-ready", text(by.ready));
  set("tile-nodes-total", text(total));
  set("tile-jobs-per-s", fixed(load.jobs_per_s, 2));
  set("tile-failed-per-s", fixed(load.failed_per_s, 2));
  set("tile-dispatch-p95", fixed(load.dispatch_p95_ms));
  set("tile-dispatch-p50", fixed(load.dispatch_p50_ms));
  set("tile-result-p95", fixed(load.result_p95_ms));
  set("tile-result-p50", fixed(load.result_p50_ms));
  set("tile-waiting", text(view.waiting_total));
  set("tile-running", text(running));
  set("tile-capacity", text(capacity));
  set("tile-sessions", text(view.connections.session, "0"));
  set("tile-node-sockets", text(view.connections.node, "0"));
  set("tile-dispatchers", text(view.replicas.dispatcher, "0"));
  const totals = view.totals || {};
  set("tile-completed", text(totals.completed));
  set("tile-failed", text(totals.failed));
  set("tile-window", totals.since_ms ? `since ${new Date(totals.since_ms).toLocaleTimeString()}` : "no history yet");
  set("tile-gateways", text(view.replicas.gateway, "0"));
}

function renderNodes(view) {
  $("#nodes-count").textContent = `(${view.nodes.length}${view.nodes_truncated ? "+" : ""})`;
  const body = $("#nodes tbody");
  const rows = view.nodes.map((node) => {
    const tr = document.createElement("tr");
    tr.dataset.nodeId = node.node_id;
    tr.dataset.status = node.status;
    cell(tr, node.node_id);
    cell(tr, node.status, `status ${node.status}`).title = node.status_reason || "";
    cell(tr, pairs(node.pairs));
    const load = document.createElement("span");
    load.textContent = `${node.running}/${node.max_jobs}`;
    load.dataset.testid = "node-running";
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${node.max_jobs ? Math.min(100, (100 * node.running) / node.max_jobs) : 0}%`;
    bar.append(fill);
    const both = document.createElement("span");
    both.append(load, bar);
    cell(tr, both);
    cell(tr, node.gateway || "–");
    cell(tr, age(node.heartbeat_age_s));
    cell(tr, node.serving ? "yes" : node.idle_reason, node.serving ? "" : "idle");
    const actions = cell(tr, "", "op-only");
    if (node.status === "ready" || node.status === "degraded") actions.append(drainButton(node.node_id));
    return tr;
  });
  body.replaceChildren(...rows);
}

// Drain takes two clicks: the first arms the button, the second drains.
function drainButton(nodeId) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.testid = "drain";
  const armed = state.pendingDrain === nodeId;
  button.textContent = armed ? "confirm drain" : "drain";
  if (armed) button.className = "confirm";
  button.addEventListener("click", async () => {
    if (state.pendingDrain !== nodeId) {
      state.pendingDrain = nodeId;
      button.textContent = "confirm drain";
      button.className = "confirm";
      return;
    }
    state.pendingDrain = null;
    button.disabled = true;
    const reply = await api(`/api/nodes/${encodeURIComponent(nodeId)}/drain`, {
      method: "POST",
      body: JSON.stringify({ reason: "drained from the console" }),
    });
    button.textContent = reply.status === 200 ? reply.body.status : text(reply.body && reply.body.error, "failed");
  });
  return button;
}

function renderPools(view) {
  const rows = view.pools.map((pool) => {
    const tr = document.createElement("tr");
    tr.dataset.pair = pool.pair;
    cell(tr, pool.pair);
    cell(tr, String(pool.nodes), "num");
    cell(tr, String(pool.ready_nodes), "num");
    cell(tr, `${pool.running}/${pool.capacity}`, "num");
    cell(tr, String(pool.free_slots), "num").dataset.testid = "pool-free";
    cell(tr, text(pool.waiting), "num").dataset.testid = "pool-waiting";
    return tr;
  });
  $("#pools tbody").replaceChildren(...rows);
}

function renderFailures(view) {
  const traceUrl = state.session && state.session.trace_url;
  const rows = view.failures.map((job) => {
    const tr = document.createElement("tr");
    tr.dataset.jobId = job.job_id;
    cell(tr, new Date(job.updated_at_ms || job.created_at_ms).toLocaleTimeString());
    cell(tr, job.job_id);
    cell(tr, `${job.src}→${job.tgt}`);
    cell(tr, job.node_id || "–");
    cell(tr, job.error ? `${job.error.code}: ${job.error.message}` : "–");
    if (job.trace_url || (traceUrl && job.trace_id)) {
      const link = document.createElement("a");
      link.href = job.trace_url;
      link.textContent = job.trace_id;
      link.rel = "noreferrer";
      cell(tr, link);
    } else {
      cell(tr, job.trace_id || "–");
    }
    return tr;
  });
  $("#failures tbody").replaceChildren(...rows);
}

$("#cancel-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const jobId = $("#cancel-job-id").value.trim();
  const reply = await api(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, {
    method: "POST",
    body: JSON.stringify({ reason: "cancelled from the console" }),
  });
  $("#cancel-result").textContent = reply.status === 200
    ? `${reply.body.job_id}: ${reply.body.state}`
    : text(reply.body && reply.body.error, "failed");
});

// --- charts ------------------------------------------------------------------------------

async function loadHistory() {
  const reply = await api("/api/history");
  if (reply.status !== 200) return;
  state.history = reply.body;
  for (const name of Object.keys(HISTORY_SERIES)) drawChart(name);
}

function chartData(name) {
  const h = state.history;
  return [h.t, ...HISTORY_SERIES[name].map(([key]) => h[key])];
}

function drawChart(name) {
  const el = document.getElementById(`chart-${name}`);
  if (state.charts[name]) state.charts[name].destroy();
  const options = {
    width: Math.max(280, el.clientWidth),
    height: 170,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    series: [{}, ...HISTORY_SERIES[name].map(([, label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: false, points: { show: false } }))],
    axes: [{ stroke: "#667085" }, { stroke: "#667085", size: 46 }],
  };
  state.charts[name] = new uPlot(options, chartData(name), el);
}

function appendPoint(point) {
  const h = state.history;
  if (!h || (h.t.length && point.t <= h.t[h.t.length - 1])) return;
  for (const key of Object.keys(h)) h[key].push(point[key] === undefined ? null : point[key]);
  for (const name of Object.keys(HISTORY_SERIES)) {
    if (state.charts[name]) state.charts[name].setData(chartData(name));
  }
}

window.addEventListener("resize", () => {
  for (const [name, chart] of Object.entries(state.charts)) {
    chart.setSize({ width: Math.max(280, document.getElementById(`chart-${name}`).clientWidth), height: 170 });
  }
});

window.addEventListener("load", start);
