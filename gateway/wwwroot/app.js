// Live KPI dashboard: one tile per (client, KPI), fed by the gateway's SignalR hub.
// The hub owns all computation; this page only merges what it receives and draws it.

const HUB_URL = "/hubs/kpi";
const TOKEN_KEY = "ae.token";
const PERIOD_KEY = "ae.period";
const PERIODS = ["minute", "hour", "day"];
// The grains send these by enum position when a serializer does not name them.
const GRANULARITY_NAMES = ["minute", "hour", "day", "week", "month"];
const FEATURED_KPIS = ["POF", "OTD"];
// More tiles than this per client turns the overview into a wall; the rest stay one click away in the API.
const MAX_TILES_PER_CLIENT = 6;
// Enough history for a readable sparkline without holding a day of minute buckets per tile.
const MAX_POINTS = 60;
/** The hub accepts at most this many held buckets in a Resume (Gateway:MaxResumeBuckets). */
const MAX_RESUME_BUCKETS = 300;
const FETCH_TIMEOUT_MS = 10_000;
const FLASH_MIN_INTERVAL_MS = 3_000;

const state = {
  period: readPeriod(),
  clients: [],
  kpiDefs: new Map(),
  tiles: new Map(), // key(clientId, kpiCode) -> tile
  connection: null,
  restartTimer: 0,
  restartAttempt: 0,
  leaving: false, // set while the page is being hidden, so a deliberate stop is not "retried"
};

const els = {
  clients: document.getElementById("clients"),
  notice: document.getElementById("notice"),
  connection: document.getElementById("connection"),
  connectionText: document.querySelector("#connection .connection-text"),
  period: document.getElementById("period"),
};

const prefersReducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

// ---------- small helpers ----------

function key(clientId, kpiCode) {
  return `${clientId}\u0000${kpiCode}`;
}

function readPeriod() {
  try {
    const saved = localStorage.getItem(PERIOD_KEY);
    return PERIODS.includes(saved) ? saved : "minute";
  } catch {
    return "minute"; // storage can be disabled; the default is fine then
  }
}

/**
 * A link like http://127.0.0.1:5080/#token=<jwt> (printed by scripts/run.sh) signs this browser in: the token moves
 * to localStorage and leaves the address bar, so it is not bookmarked, shared or kept in history.
 * The fragment never reaches the server or its logs.
 */
function adoptTokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");
  if (!token) return;
  try {
    localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the token cannot outlive this page, and the sign-in panel explains what to do
  }
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
}

function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || undefined;
  } catch {
    return undefined;
  }
}

function normalizeGranularity(g) {
  if (typeof g === "number") return GRANULARITY_NAMES[g] ?? String(g);
  return String(g ?? "").toLowerCase();
}

// Client ids and KPI codes are user data; element ids only need to be unique, so a counter is safer than either.
let idCounter = 0;
function nextId(prefix) {
  return `${prefix}-${++idCounter}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const svgNs = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}) {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** Formats bucket boundaries in the client's zone, since that is where the buckets are cut. */
function bucketFormatter(timeZone, granularity) {
  const options = granularity === "day"
    ? { weekday: "short", day: "numeric", month: "short" }
    : { hour: "2-digit", minute: "2-digit", hour12: false };
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone });
  } catch {
    return new Intl.DateTimeFormat(undefined, options); // unknown zone id: browser's zone beats nothing
  }
}

// Components are mostly counts and sums: no forced decimals.
const componentFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function isPercent(unit) {
  const u = String(unit ?? "").trim().toLowerCase();
  return u === "%" || u === "percent" || u === "pct";
}

function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  // A whole number of a count, of currency, of hours reads as one ("12 count", not "12.0"); a share keeps its tenth.
  const digits = !isPercent(unit) && Number.isInteger(value) ? 0 : isPercent(unit) || Math.abs(value) < 1000 ? 1 : 0;
  return new Intl.NumberFormat(undefined, {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(value);
}

function unitLabel(unit) {
  if (isPercent(unit)) return "%";
  return String(unit ?? "");
}

/** Hub errors arrive wrapped in SignalR's generic prefix; the reader only needs the reason. */
function hubErrorText(error) {
  const raw = error?.message ?? String(error);
  return raw
    .replace(/^An unexpected error occurred invoking '\w+' on the server\.\s*/i, "")
    .replace(/^HubException:\s*/i, "")
    .trim() || "The server refused the request.";
}

async function fetchJson(url) {
  const headers = { Accept: "application/json" };
  const token = readToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) {
    let detail = "";
    try {
      const problem = await response.json(); // ProblemDetails from the gateway
      detail = problem.detail || problem.title || "";
    } catch {
      // not JSON: the status line says enough
    }
    const error = new Error(detail || `${response.status} ${response.statusText}`.trim());
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// ---------- KPI catalog (names, units, direction) ----------

async function loadKpiDefinitions() {
  // Optional: without the catalog, tiles fall back to the code and a percent unit.
  try {
    const defs = await fetchJson("/kpis");
    if (Array.isArray(defs)) {
      for (const d of defs) if (d?.code) state.kpiDefs.set(d.code, d);
    }
  } catch {
    // the dashboard still works; names are cosmetic
  }
}

function kpiInfo(client, code) {
  const def = state.kpiDefs.get(code) ?? client.customKpis?.find((k) => k.code === code);
  const direction = String(def?.direction ?? "higherIsBetter").toLowerCase();
  return {
    code,
    name: def?.name ?? code,
    description: def?.description ?? "",
    unit: def?.unit ?? "%",
    lowerIsBetter: direction === "1" || direction.startsWith("lower"),
  };
}

function tileCodesFor(client) {
  const selected = Array.isArray(client.selectedKpis) ? client.selectedKpis : [];
  const codes = [...FEATURED_KPIS, ...selected.filter((c) => !FEATURED_KPIS.includes(c))];
  return { shown: codes.slice(0, MAX_TILES_PER_CLIENT), hidden: Math.max(0, codes.length - MAX_TILES_PER_CLIENT) };
}

// ---------- rendering: page states ----------

function showPanel({ title, body, retry, tone = "info" }) {
  els.clients.replaceChildren();
  els.clients.setAttribute("aria-busy", "false");
  const panel = el("section", `panel panel-${tone}`);
  panel.setAttribute("role", tone === "error" ? "alert" : "status");
  panel.append(el("h2", "panel-title", title));
  for (const paragraph of [].concat(body)) panel.append(el("p", "panel-text", paragraph));
  const actions = el("div", "panel-actions");
  if (retry) {
    const button = el("button", "button", "Try again");
    button.type = "button";
    button.addEventListener("click", retry);
    actions.append(button);
  }
  const docs = el("a", "button button-quiet", "Open the API reference");
  docs.href = "/scalar";
  actions.append(docs);
  panel.append(actions);
  els.clients.append(panel);
}

function renderClients() {
  els.clients.replaceChildren();
  els.clients.setAttribute("aria-busy", "false");
  state.tiles.clear();

  for (const client of state.clients) {
    const section = el("section", "client");
    const headingId = nextId("client");
    section.setAttribute("aria-labelledby", headingId);

    const header = el("header", "client-header");
    const heading = el("h2", "client-name", client.name || client.clientId);
    heading.id = headingId;
    const meta = el("p", "client-meta");
    meta.append(el("span", "mono", client.clientId), el("span", "", client.timeZone || "UTC"));
    header.append(heading, meta);

    const grid = el("div", "tiles");
    const { shown, hidden } = tileCodesFor(client);
    for (const code of shown) {
      const tile = createTile(client, kpiInfo(client, code));
      state.tiles.set(key(client.clientId, code), tile);
      grid.append(tile.root);
    }
    section.append(header, grid);
    if (hidden > 0) {
      section.append(el("p", "more", `${hidden} more selected KPI${hidden === 1 ? "" : "s"} not shown here; query them over HTTP.`));
    }
    els.clients.append(section);
  }
  observeTiles();
}

// ---------- tiles ----------

function createTile(client, info) {
  const root = el("article", "tile");
  root.dataset.state = "waiting";
  const titleId = nextId("tile");
  root.setAttribute("aria-labelledby", titleId);

  const head = el("header", "tile-head");
  const title = el("h3", "tile-title", info.name);
  title.id = titleId;
  if (info.description) title.title = info.description;
  head.append(title, el("span", "code", info.code));

  const valueRow = el("div", "value-row");
  const value = el("p", "value");
  const number = el("span", "number", "—");
  const unit = el("span", "unit", unitLabel(info.unit));
  value.append(number, unit);
  const delta = el("p", "delta");
  valueRow.append(value, delta);

  const reason = el("p", "reason");
  reason.hidden = true;
  const components = el("p", "components");

  const spark = svg("svg", { class: "spark", viewBox: "0 0 200 44", preserveAspectRatio: "none", role: "img" });
  const sparkTitle = svg("title");
  spark.append(sparkTitle);

  const bucket = el("p", "bucket");
  const meta = el("p", "meta");
  // Not a live region: a dashboard of tiles all announcing "Loading…" at once helps nobody; errors use role=alert.
  const status = el("p", "tile-status");

  const error = el("div", "tile-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const errorText = el("span");
  const retry = el("button", "link-button", "Retry");
  retry.type = "button";
  error.append(errorText, retry);

  root.append(head, valueRow, reason, components, spark, bucket, meta, status, error);

  const tile = {
    client, info, root,
    parts: { number, unit, delta, reason, components, spark, sparkTitle, bucket, meta, status, error, errorText },
    wanted: false, // becomes true once the tile has been on screen: no subscriptions for what nobody sees
    granularity: null, // the granularity whose pushes this tile accepts
    generation: 0, // guards against answers to a subscription the user has already switched away from
    series: new Map(), // bucketStart (ms) -> KpiValue
    loading: false,
    error: null,
    subscribedTo: null, // the granularity the hub may be sending, so a period switch knows what to unsubscribe
    ended: false, // the hub said the KPI is no longer computed: not subscribed again until the user asks
    definition: null, // what the held values mean (formula and time zone), as the hub last said
    receivedAt: null,
    lastFlashAt: -Infinity,
  };
  retry.addEventListener("click", () => { tile.ended = false; subscribeTile(tile); });
  root.addEventListener("animationend", () => root.classList.remove("flash"));
  renderTile(tile);
  return tile;
}

function bucketKey(value) {
  return Date.parse(value.bucketStart);
}

/** True when `candidate` supersedes `held`: a higher revision, or the same one now final (finality keeps the revision). */
function isNewer(candidate, held) {
  const a = Number(candidate.revision), b = Number(held.revision);
  return a > b || (a === b && Boolean(candidate.isFinal) && !held.isFinal);
}

/**
 * Applies values to a tile's series: a newer value replaces its bucket, an unseen bucket is added, repeats and
 * overtaken values are dropped. A resume answer is the server's state and replaces unconditionally. Returns what changed.
 */
function mergeValues(tile, values, { replace = false } = {}) {
  let changedCurrent = false;
  let changedAny = false;
  const currentBefore = latestBucketKey(tile);
  for (const v of values) {
    if (!v || normalizeGranularity(v.granularity) !== tile.granularity) continue;
    const k = bucketKey(v);
    if (Number.isNaN(k)) continue;
    const existing = tile.series.get(k);
    if (existing && !replace && !isNewer(v, existing)) continue;
    tile.series.set(k, v);
    changedAny = true;
    if (currentBefore === null || k >= currentBefore) changedCurrent = true;
  }
  if (tile.series.size > MAX_POINTS) {
    const keys = [...tile.series.keys()].sort((a, b) => a - b);
    for (const k of keys.slice(0, keys.length - MAX_POINTS)) tile.series.delete(k);
  }
  return { changedAny, changedCurrent };
}

function latestBucketKey(tile) {
  let latest = null;
  for (const k of tile.series.keys()) if (latest === null || k > latest) latest = k;
  return latest;
}

function sortedSeries(tile) {
  return [...tile.series.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function withTitle(node, title) {
  if (title) node.title = title;
  return node;
}

/** Which source rows the value includes, for someone checking whether a change has arrived yet. */
function asOfText(asOf) {
  if (!Array.isArray(asOf) || asOf.length === 0) return "";
  return `Includes ${asOf.map((p) => `${p.objectModel} up to #${p.sequence}`).join(", ")}`;
}

function renderTile(tile, { flash = false } = {}) {
  const { parts, info } = tile;
  const series = sortedSeries(tile);
  const current = series.at(-1) ?? null;
  const previous = series.length > 1 ? series.at(-2) : null;
  const connected = isConnected();

  tile.root.dataset.state = tile.error ? "error"
    : tile.loading && !current ? "loading"
    : current ? (connected ? "live" : "stale")
    : tile.wanted && connected ? "empty" : "waiting";

  // Value
  parts.number.textContent = formatValue(current?.value, info.unit);
  parts.unit.hidden = current?.value === null || current?.value === undefined;
  if (current && (current.value === null || current.value === undefined)) {
    parts.reason.hidden = false;
    parts.reason.textContent = current.noValueReason || "No value for this bucket yet.";
  } else {
    parts.reason.hidden = true;
  }

  // Change against the previous bucket, coloured by whether that direction is good for this KPI.
  parts.delta.replaceChildren();
  parts.delta.className = "delta";
  if (current?.value != null && previous?.value != null) {
    const raw = current.value - previous.value;
    // A change too small to show at display precision reads as flat, not as "▲ 0.0".
    const diff = formatValue(Math.abs(raw), info.unit) === formatValue(0, info.unit) ? 0 : raw;
    const good = info.lowerIsBetter ? diff < 0 : diff > 0;
    const arrow = diff > 0 ? "▲" : diff < 0 ? "▼" : "■";
    parts.delta.classList.add(diff === 0 ? "flat" : good ? "good" : "bad");
    parts.delta.append(el("span", "", `${arrow} ${formatValue(Math.abs(diff), info.unit)}`), el("span", "delta-note", "vs previous"));
    parts.delta.setAttribute("aria-label",
      `${diff > 0 ? "Up" : diff < 0 ? "Down" : "Unchanged"} ${formatValue(Math.abs(diff), info.unit)} ${unitLabel(info.unit)} against the previous ${tile.granularity ?? "bucket"}`);
  } else {
    parts.delta.removeAttribute("aria-label");
  }

  // Components, e.g. numerator and denominator: they make a surprising value explainable at a glance.
  const comps = Array.isArray(current?.components) ? current.components.slice(0, 3) : [];
  parts.components.textContent = comps
    .map((c) => `${c.name} ${c.value == null ? "—" : componentFormat.format(c.value)}`)
    .join(" · ");
  parts.components.hidden = comps.length === 0;

  drawSparkline(tile, series);

  // Bucket and freshness
  if (current) {
    const fmt = bucketFormatter(tile.client.timeZone, tile.granularity);
    const start = fmt.format(new Date(current.bucketStart));
    const end = tile.granularity === "day" ? "" : `–${fmt.format(new Date(current.bucketEnd))}`;
    parts.bucket.replaceChildren(
      el("span", "", `${start}${end}`),
      el("span", current.isFinal ? "pill pill-final" : "pill pill-open", current.isFinal ? "final" : "open"),
    );
    if (!current.isFinal) parts.bucket.title = "This bucket is still open and will change as events arrive.";
    else parts.bucket.title = "This bucket is closed; only late events can still correct it.";

    parts.meta.replaceChildren();
    const updated = el("span", "", `updated ${tile.receivedAt ? clockFormat.format(tile.receivedAt) : "—"}`);
    if (current.newestEventTime) updated.title = `Newest event included: ${new Date(current.newestEventTime).toLocaleString()}`;
    parts.meta.append(
      updated,
      withTitle(el("span", "", `rev ${current.revision ?? 0}`), asOfText(current.asOf)),
      el("span", "", `${Number(current.eventCount ?? 0).toLocaleString()} event${Number(current.eventCount) === 1 ? "" : "s"}`),
    );
  } else {
    parts.bucket.replaceChildren();
    parts.bucket.removeAttribute("title");
    parts.meta.replaceChildren();
  }

  parts.status.textContent =
    tile.root.dataset.state === "loading" ? "Loading…"
    : tile.root.dataset.state === "empty" ? `No ${tile.granularity ?? state.period} buckets yet. Waiting for events.`
    : tile.root.dataset.state === "waiting" ? (connected ? "Subscribes when scrolled into view." : "Waiting for the live connection…")
    : tile.root.dataset.state === "stale" ? "Not live · last values received shown."
    : "";
  parts.status.hidden = parts.status.textContent === "";

  parts.error.hidden = !tile.error;
  parts.errorText.textContent = tile.error ?? "";

  // At most one flash per tile every few seconds: a busy KPI would otherwise blink without pause all day.
  const now = performance.now();
  if (flash && !prefersReducedMotion.matches && now - tile.lastFlashAt > FLASH_MIN_INTERVAL_MS) {
    tile.lastFlashAt = now;
    // Restart the animation even when updates come faster than it runs.
    tile.root.classList.remove("flash");
    void tile.root.offsetWidth;
    tile.root.classList.add("flash");
  }
}

function drawSparkline(tile, series) {
  const { spark, sparkTitle } = tile.parts;
  spark.replaceChildren(sparkTitle);
  const points = series.filter((v) => v.value != null).map((v) => ({ t: bucketKey(v), y: v.value }));
  if (points.length < 2) {
    sparkTitle.textContent = "Not enough buckets yet for a trend.";
    spark.classList.add("spark-empty");
    spark.append(svg("line", { x1: 0, y1: 40, x2: 200, y2: 40, class: "spark-base" }));
    return;
  }
  spark.classList.remove("spark-empty");

  const W = 200, H = 44, PAD = 4;
  const t0 = points[0].t, t1 = points.at(-1).t;
  let lo = Math.min(...points.map((p) => p.y));
  let hi = Math.max(...points.map((p) => p.y));
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; } // flat series: draw a centred line, not a divide by zero
  const x = (t) => (t1 === t0 ? W : ((t - t0) / (t1 - t0)) * W);
  const y = (v) => PAD + (1 - (v - lo) / (hi - lo)) * (H - 2 * PAD);

  // Buckets with no value break the line, so a gap is never drawn as a trend.
  const segments = [];
  let segment = [];
  for (const v of series) {
    if (v.value == null) { if (segment.length) segments.push(segment); segment = []; continue; }
    segment.push([x(bucketKey(v)), y(v.value)]);
  }
  if (segment.length) segments.push(segment);

  for (const seg of segments) {
    if (seg.length === 1) {
      spark.append(svg("circle", { cx: seg[0][0], cy: seg[0][1], r: 1.5, class: "spark-dot" }));
      continue;
    }
    const line = seg.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ");
    const area = `${seg[0][0].toFixed(1)},${H} ${line} ${seg.at(-1)[0].toFixed(1)},${H}`;
    spark.append(
      svg("polygon", { points: area, class: "spark-area" }),
      svg("polyline", { points: line, class: "spark-line", "vector-effect": "non-scaling-stroke" }),
    );
  }
  const last = points.at(-1);
  spark.append(svg("circle", { cx: x(last.t), cy: y(last.y), r: 2.5, class: "spark-last" }));

  const unit = unitLabel(tile.info.unit);
  sparkTitle.textContent = `Trend over the last ${points.length} ${tile.granularity ?? ""} buckets: from ${formatValue(points[0].y, tile.info.unit)}${unit} to ${formatValue(last.y, tile.info.unit)}${unit}, low ${formatValue(lo, tile.info.unit)}, high ${formatValue(hi, tile.info.unit)}.`;
}

function renderAllTiles() {
  for (const tile of state.tiles.values()) renderTile(tile);
}

// ---------- subscriptions ----------

let visibility = null;
function observeTiles() {
  visibility?.disconnect();
  const markWanted = (tile) => {
    if (tile.wanted) return;
    tile.wanted = true;
    subscribeTile(tile);
  };
  if (!("IntersectionObserver" in window)) {
    for (const tile of state.tiles.values()) markWanted(tile);
    return;
  }
  const byElement = new Map([...state.tiles.values()].map((t) => [t.root, t]));
  // Subscribe when a tile first comes near the viewport and keep it: unsubscribing while scrolling would churn the hub.
  visibility = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const tile = byElement.get(entry.target);
      visibility.unobserve(entry.target);
      if (tile) markWanted(tile);
    }
  }, { rootMargin: "200px 0px" });
  for (const element of byElement.keys()) visibility.observe(element);
}

function isConnected() {
  return state.connection?.state === window.signalR?.HubConnectionState.Connected;
}

async function subscribeTile(tile) {
  if (!tile.wanted) return;
  tile.granularity = state.period;
  if (!isConnected()) { renderTile(tile); return; } // (re)connecting subscribes every wanted tile
  const generation = ++tile.generation;
  const granularity = tile.granularity;
  // Remembered before the answer: a switch while this is in flight must still undo it on the server.
  tile.subscribedTo = granularity;
  tile.loading = true;
  tile.error = null;
  renderTile(tile);
  try {
    let changedAny;
    if (tile.series.size > 0) {
      // Back after a drop: send what the tile holds and get only what it missed (docs/streaming-api.md, "Resume").
      const held = sortedSeries(tile).slice(-MAX_RESUME_BUCKETS)
        .map((v) => ({ bucketStart: v.bucketStart, revision: Number(v.revision), isFinal: Boolean(v.isFinal) }));
      try {
        const resume = await state.connection.invoke("Resume", tile.client.clientId, tile.info.code, granularity, held);
        if (generation !== tile.generation) return;
        if (resume?.definition && tile.definition && resume.definition !== tile.definition) {
          // Redefined while away (another formula or time zone): what the tile holds means something else now.
          tile.series.clear();
        } else {
          for (const start of resume?.expired ?? []) tile.series.delete(Date.parse(start));
          ({ changedAny } = mergeValues(tile, resume?.changed ?? [], { replace: true }));
          tile.definition = resume?.definition ?? tile.definition;
        }
      } catch (error) {
        if (generation !== tile.generation || !isConnected() || retryAfterSeconds(error) !== null) throw error;
        // Refused: what the tile holds no longer fits the series (the client's time zone changed, so its buckets
        // lie on another grid, say). Start afresh from a snapshot rather than stay stuck on the refusal.
        tile.series.clear();
      }
    }
    if (tile.series.size === 0) {
      const snapshot = await state.connection.invoke("Subscribe", tile.client.clientId, tile.info.code, granularity);
      if (generation !== tile.generation) return;
      const values = [...(snapshot?.recent ?? [])];
      if (snapshot?.current) values.push(snapshot.current);
      ({ changedAny } = mergeValues(tile, values));
      tile.definition = snapshot?.definition ?? null;
    }
    if (changedAny) tile.receivedAt = new Date();
    tile.loading = false;
    renderTile(tile);
  } catch (error) {
    if (generation !== tile.generation) return;
    tile.loading = false;
    tile.subscribedTo = null;
    // A dropped connection is shown by the badge and healed by re-subscribing; only real refusals belong on the tile.
    tile.error = isConnected() ? hubErrorText(error) : null;
    renderTile(tile);
    // Over the call limit (many tiles resuming at once after a reconnect): try again when the gateway says, with
    // jitter so that the tiles do not all come back in the same instant.
    const wait = retryAfterSeconds(error);
    if (wait !== null) {
      setTimeout(() => { if (generation === tile.generation) subscribeTile(tile); }, wait * 1000 + Math.random() * 1000);
    }
  }
}

/** The seconds a "Too many calls; retry after N s." refusal asks to wait; null for any other error. */
function retryAfterSeconds(error) {
  const match = /Too many calls; retry after (\d+) s/.exec(String(error?.message ?? ""));
  return match ? Number(match[1]) : null;
}

function resubscribeAll() {
  for (const tile of state.tiles.values()) if (tile.wanted && !tile.ended) subscribeTile(tile);
}

/** The tile's series as the hub now has it, when the KPI's definition or the client's time zone changed. */
function onKpiReset(snapshot) {
  const tile = state.tiles.get(key(snapshot?.clientId, snapshot?.kpiCode));
  if (!tile || tile.ended || normalizeGranularity(snapshot.granularity) !== tile.subscribedTo) return;
  // What the tile holds is the old definition's, with the same revisions as the new values: replace it all. An answer
  // to a Subscribe or Resume still in flight was read before, and is dropped.
  tile.generation++;
  tile.loading = false;
  tile.definition = snapshot.definition ?? null;
  tile.series.clear();
  const values = [...(snapshot.recent ?? [])];
  if (snapshot.current) values.push(snapshot.current);
  mergeValues(tile, values);
  tile.receivedAt = new Date();
  tile.error = null;
  renderTile(tile, { flash: true });
}

/** The KPI is no longer computed (deleted or deselected): the tile says why and stops asking for it. */
function onKpiEnded(ended) {
  const tile = state.tiles.get(key(ended?.clientId, ended?.kpiCode));
  if (!tile || normalizeGranularity(ended.granularity) !== tile.subscribedTo) return;
  tile.generation++; // an answer still in flight is for the series that ended
  tile.subscribedTo = null;
  tile.ended = true;
  tile.definition = null;
  tile.loading = false;
  tile.series.clear();
  tile.error = String(ended.reason ?? "This KPI is no longer computed.");
  renderTile(tile);
}

function onKpiChanged(values) {
  if (!Array.isArray(values)) return;
  const touched = new Map();
  for (const v of values) {
    const tile = state.tiles.get(key(v?.clientId, v?.kpiCode));
    if (!tile || tile.ended) continue; // a push that raced the series' end
    const list = touched.get(tile) ?? [];
    list.push(v);
    touched.set(tile, list);
  }
  for (const [tile, list] of touched) {
    const { changedAny, changedCurrent } = mergeValues(tile, list);
    if (!changedAny) continue;
    tile.receivedAt = new Date();
    tile.error = null;
    renderTile(tile, { flash: changedCurrent });
  }
}

function setPeriod(period) {
  if (!PERIODS.includes(period) || period === state.period) return;
  state.period = period;
  try { localStorage.setItem(PERIOD_KEY, period); } catch { /* remembered for this page only */ }
  for (const tile of state.tiles.values()) {
    const old = tile.subscribedTo;
    tile.subscribedTo = null;
    tile.generation++; // any answer still in flight is for the old period
    tile.series.clear();
    tile.receivedAt = null;
    tile.error = null;
    tile.ended = false;
    tile.granularity = null;
    if (old && isConnected()) {
      state.connection.invoke("Unsubscribe", tile.client.clientId, tile.info.code, old).catch(() => {
        // the server drops a connection's subscriptions when it closes; nothing to repair here
      });
    }
    if (tile.wanted) subscribeTile(tile); else renderTile(tile);
  }
}

// ---------- connection ----------

function setConnectionState(kind, text, detail) {
  els.connection.dataset.state = kind;
  els.connectionText.textContent = text;
  if (detail) els.connection.title = detail; else els.connection.removeAttribute("title");
  renderAllTiles();
}

/** Retries forever with capped backoff and jitter: a wall display must heal itself after an outage of any length. */
const retryPolicy = {
  nextRetryDelayInMilliseconds(context) {
    return backoff(context.previousRetryCount);
  },
};

function backoff(attempt) {
  const base = [0, 1000, 2000, 5000, 10000, 20000][attempt] ?? 30000;
  return base + Math.round(Math.random() * Math.min(1000, base / 4));
}

/** SignalR's own console output would duplicate what the badge shows; keep only warnings for developers. */
const quietLogger = {
  log(level, message) {
    if (level >= window.signalR.LogLevel.Warning) console.warn(`[signalr] ${message}`);
  },
};

function createConnection() {
  const connection = new window.signalR.HubConnectionBuilder()
    .withUrl(HUB_URL, { accessTokenFactory: () => readToken() })
    .withAutomaticReconnect(retryPolicy)
    .configureLogging(quietLogger)
    .build();

  connection.on("kpiChanged", onKpiChanged);
  connection.on("kpiReset", onKpiReset);
  connection.on("kpiEnded", onKpiEnded);
  connection.onreconnecting((error) => {
    setConnectionState("reconnecting", "Reconnecting…", error ? String(error.message ?? error) : undefined);
  });
  connection.onreconnected(() => {
    setConnectionState("connected", "Live");
    // A new connection has no subscriptions; each tile resumes with what it holds and gets only what it missed.
    resubscribeAll();
  });
  connection.onclose((error) => {
    scheduleRestart(error);
  });
  return connection;
}

async function startConnection() {
  clearTimeout(state.restartTimer);
  if (state.connection.state !== window.signalR.HubConnectionState.Disconnected) return;
  setConnectionState("connecting", "Connecting…");
  try {
    await state.connection.start();
    state.restartAttempt = 0;
    setConnectionState("connected", "Live");
    resubscribeAll();
  } catch (error) {
    scheduleRestart(error);
  }
}

// Automatic reconnect covers drops of a started connection; a failed start or a closed connection is ours to retry.
function scheduleRestart(error) {
  if (state.leaving) return;
  if (state.connection?.state !== window.signalR.HubConnectionState.Disconnected) return;
  const delay = Math.max(2000, backoff(++state.restartAttempt));
  const seconds = Math.round(delay / 1000);
  const reason = error ? String(error.message ?? error) : "Connection closed.";
  const unauthorized = /\b401\b|unauthori[sz]ed/i.test(reason);
  setConnectionState("disconnected",
    unauthorized ? "Not signed in" : `Offline · retry in ${seconds}s`,
    unauthorized ? "The hub refused the token. Set a valid token in localStorage 'ae.token' and reload." : reason);
  state.restartTimer = setTimeout(startConnection, delay);
}

// ---------- clients ----------

async function loadClients() {
  els.clients.setAttribute("aria-busy", "true");
  els.clients.replaceChildren(el("div", "loading-line", "Loading clients…"));
  try {
    const [clients] = await Promise.all([fetchJson("/clients"), loadKpiDefinitions()]);
    if (!Array.isArray(clients)) throw new Error("The gateway answered /clients with something other than a list.");
    state.clients = clients.filter((c) => c && c.clientId);
    if (state.clients.length === 0) {
      showPanel({
        title: "No clients yet",
        body: [
          "Nothing to show until a client is configured.",
          "Create one with POST /clients, or load sample data with POST /demo/generate; this page picks it up on reload.",
        ],
        retry: loadClients,
      });
      return;
    }
    renderClients();
  } catch (error) {
    const status = error?.status;
    const body = status === 401 || status === 403
      ? ["The gateway needs a token that grants access to at least one client.",
         "Store it in this browser with localStorage.setItem('ae.token', '<jwt>') and try again."]
      : [`The client list could not be loaded: ${error?.name === "TimeoutError" ? "the gateway did not answer in time" : error?.message ?? error}.`,
         "Live values appear as soon as the gateway is reachable."];
    showPanel({
      title: status === 401 || status === 403 ? "Sign-in required" : "Clients unavailable",
      body,
      retry: loadClients,
      tone: "error",
    });
  }
}

// ---------- start ----------

function initPeriodSelector() {
  for (const input of els.period.querySelectorAll("input[name=period]")) {
    input.checked = input.value === state.period;
    input.addEventListener("change", () => { if (input.checked) setPeriod(input.value); });
  }
}

function init() {
  adoptTokenFromFragment();
  initPeriodSelector();
  if (!window.signalR) {
    // Built with SkipWebNpm, or the script failed to load: the page still lists clients, just not live.
    setConnectionState("disconnected", "Live updates unavailable", "The SignalR client script (lib/signalr/signalr.min.js) did not load.");
    els.notice.hidden = false;
    els.notice.textContent = "Live updates are unavailable: the SignalR client script did not load. Values will not update.";
  } else {
    state.connection = createConnection();
    startConnection();
    // Leave cleanly so the hub drops this page's subscriptions at once rather than at its timeout.
    window.addEventListener("pagehide", () => {
      state.leaving = true;
      clearTimeout(state.restartTimer);
      state.connection.stop();
    });
    // Back/forward cache restores the page without reloading it; the stopped connection must come back.
    window.addEventListener("pageshow", (event) => {
      if (!event.persisted) return;
      state.leaving = false;
      startConnection();
    });
  }
  loadClients();
}

init();
