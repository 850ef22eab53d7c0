// Handoff analytics page: reads /inspector/analytics.json and draws each chart as inline SVG.
// No library: a few bar shapes are less code than a chart library's configuration.

const NS = "http://www.w3.org/2000/svg";
const OUTCOMES = [
  ["transfer-success", "Connected", "o-success"],
  ["transfer-screening-rejected", "Declined at screening", "o-rejected"],
  ["transfer-failed-timeout", "Timed out", "o-timeout"],
  ["transfer-failed-connection-error", "Connection error", "o-error"],
  ["transfer-cancelled", "Cancelled", "o-cancelled"],
];
const RESULTS = [
  ["accepted", "Accepted", "a-accepted"], ["declined", "Declined", "a-declined"], ["voicemail", "Voicemail", "a-voicemail"],
  ["no-answer", "No answer", "a-noanswer"], ["busy", "Busy", "a-busy"], ["failed", "Failed", "a-failed"],
  ["timeout", "No key in time", "a-timeout"], ["hung-up", "Hung up", "a-hungup"], ["cancelled", "Cancelled", "a-cancelled"],
];
const RATES = [["decline", "Declined", "r-decline"], ["voicemail", "Voicemail", "r-voicemail"],
               ["no_answer", "No answer", "r-noanswer"]];
const WINDOWS = { "24h": 24, "7d": 7 * 24, "30d": 30 * 24 };
const MAX_ROWS = 12;
const body = document.body;
const state = readState();
let report = null;

// -- small DOM helpers --------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const tip = (text) => s("title", {}, text);
const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(v < 0.1 && v > 0 ? 1 : 0)}%`);
const secs = (v) => (v === null || v === undefined ? "–" : v < 10 ? `${v.toFixed(1)} s` : v < 120 ? `${Math.round(v)} s`
  : `${(v / 60).toFixed(1)} min`);
const num = (v) => new Intl.NumberFormat().format(v || 0);

function chart(id) {
  const box = document.querySelector(`#${id} .an-chart`);
  box.replaceChildren();
  return box;
}

function empty(box, text = "Nothing in this window yet.") {
  box.append(h("p", { class: "empty" }, text));
}

function canvas(box, height) {
  const width = Math.max(300, Math.floor(box.clientWidth || 600));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "an-svg", role: "img" });
  box.append(svg);
  return [svg, width];
}

// -- state: window, time zone, grouping (kept in the URL so a view can be shared) ----------------

function readState() {
  const q = new URLSearchParams(location.search);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  return { window: WINDOWS[q.get("window")] ? q.get("window") : "7d", tz: q.get("tz") || browserZone,
           group: ["destination", "rule", "mode"].includes(q.get("group")) ? q.get("group") : "destination" };
}

function writeState() {
  const q = new URLSearchParams({ window: state.window, tz: state.tz, group: state.group });
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

function setupControls() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const select = document.getElementById("an-tz");
  for (const zone of [...new Set([state.tz, ...zones])].filter((z) => z !== "UTC")) {
    select.append(h("option", { value: zone }, zone.replaceAll("_", " ")));
  }
  select.value = state.tz;
  select.addEventListener("change", () => { state.tz = select.value; load(); });
  const group = document.getElementById("an-group");
  group.value = state.group;
  group.addEventListener("change", () => { state.group = group.value; writeState(); render(); });
  for (const button of document.querySelectorAll(".an-seg-btn")) {
    button.addEventListener("click", () => { state.window = button.dataset.window; load(); });
  }
}

// -- loading -------------------------------------------------------------------------------------

async function load() {
  writeState();
  for (const b of document.querySelectorAll(".an-seg-btn")) {
    b.setAttribute("aria-checked", String(b.dataset.window === state.window));
  }
  const until = new Date(Math.ceil(Date.now() / 60000) * 60000);
  const since = new Date(until.getTime() - WINDOWS[state.window] * 3600 * 1000);
  const q = new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), tz: state.tz });
  body.dataset.state = "loading";
  const error = document.getElementById("an-error");
  try {
    const response = await fetch(`${body.dataset.source}?${q}`, { headers: { Accept: "application/json" },
                                                                   credentials: "same-origin" });
    if (response.status === 401) { location.assign(`/inspector/login?next=${encodeURIComponent(location.pathname)}`); return; }
    const data = await response.json();
    if (!response.ok) throw new Error(data.error ? data.error.message : response.statusText);
    report = data;
    error.hidden = true;
    render();
    body.dataset.state = "loaded";
  } catch (exc) {
    error.textContent = `Could not load the analytics: ${exc.message}`;
    error.hidden = false;
    body.dataset.state = "error";
  }
}

function rows() {
  const all = report[`by_${state.group}`] || [];
  return all.slice(0, MAX_ROWS);
}

// -- the charts ----------------------------------------------------------------------------------

function render() {
  if (!report) return;
  const w = report.window;
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: w.tz });
  document.getElementById("an-window-text").textContent =
    `${fmt.format(new Date(w.since))} – ${fmt.format(new Date(w.until))} (${w.tz}), ${num(report.overall.transfers)} transfers`;
  document.getElementById("an-hours-tz").textContent = `(${w.tz})`;
  for (const per of document.querySelectorAll(".an-per")) if (per.id !== "an-hours-tz") per.textContent = `per ${state.group}`;
  document.getElementById("an-estimates").textContent = report.estimates;
  legends();
  kpis(report.overall);
  series(report.series, w.tz);
  stackedBars("chart-outcomes", rows(), "transfers", "outcomes", OUTCOMES, "");
  stackedBars("chart-results", rows(), "attempts", "results", RESULTS, " attempts");
  rateBars(rows());
  rangeBars("chart-answer", rows(), [["time_to_answer", "answer", "t-answer"], ["time_to_accept", "accept", "t-accept"]]);
  rangeBars("chart-hold", rows(), [["hold", "hold", "t-hold"]], true);
  hours(report.by_hour_of_day || []);
  depth(report.overall.depth);
  table(rows());
}

function legends() {
  const sets = {
    outcomes: OUTCOMES.map(([, label, cls]) => [label, cls]),
    results: RESULTS.map(([, label, cls]) => [label, cls]),
    rates: RATES.map(([, label, cls]) => [label, cls]),
    timing: [["to answer", "t-answer"], ["to accept", "t-accept"]],
    hold: [["on hold", "t-hold"], ["hung up on hold", "t-hangup"]],
    heat: [["fewer", "heat-1"], ["more attempts", "heat-5"]],
  };
  for (const node of document.querySelectorAll("[data-legend]")) {
    node.replaceChildren(...sets[node.dataset.legend].map(([label, cls]) =>
      h("span", { class: "an-key" }, h("i", { class: cls }), label)));
  }
}

function kpis(o) {
  const tile = (label, value, sub, id) => h("div", { class: "an-kpi card", id },
    h("span", { class: "an-kpi-label" }, label), h("b", {}, value), h("span", { class: "an-kpi-sub" }, sub));
  document.getElementById("an-kpis").replaceChildren(
    tile("Transfers", num(o.transfers), `${num(o.attempts)} attempts`, "kpi-transfers"),
    tile("Connected", pct(o.rates.success), `${num(o.outcomes["transfer-success"] || 0)} transfers`, "kpi-success"),
    tile("Time to answer", secs(o.time_to_answer.p50), `p90 ${secs(o.time_to_answer.p90)}`, "kpi-answer"),
    tile("Time to accept", secs(o.time_to_accept.p50), `p90 ${secs(o.time_to_accept.p90)}`, "kpi-accept"),
    tile("Caller hold", secs(o.hold.p50), `p90 ${secs(o.hold.p90)}`, "kpi-hold"),
    tile("Hung up on hold", num(o.hangup_on_hold.count), `${pct(o.hangup_on_hold.rate)} of callers on hold`, "kpi-hangup"),
    tile("Declined", pct(o.rates.decline), `voicemail ${pct(o.rates.voicemail)} · no answer ${pct(o.rates.no_answer)}`,
         "kpi-rates"),
  );
}

function series(points, tz) {
  const box = chart("chart-series");
  if (!points.some((p) => p.transfers)) return empty(box);
  // Hours for a day or two; local days beyond that, so bars stay wide enough to read.
  const daily = points.length > 72;
  const dayOf = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
  const label = new Intl.DateTimeFormat(undefined, daily ? { timeZone: tz, month: "short", day: "numeric" }
    : { timeZone: tz, hour: "2-digit", minute: "2-digit" });
  const buckets = [];
  for (const p of points) {
    const key = daily ? dayOf.format(new Date(p.hour)) : p.hour;
    if (!buckets.length || buckets[buckets.length - 1].key !== key) {
      buckets.push({ key, at: new Date(p.hour), transfers: 0, outcomes: {} });
    }
    const b = buckets[buckets.length - 1];
    b.transfers += p.transfers;
    for (const [o, n] of Object.entries(p.outcomes)) b.outcomes[o] = (b.outcomes[o] || 0) + n;
  }
  const H = 190, pad = { l: 36, r: 8, t: 8, b: 22 };
  const [svg, W] = canvas(box, H);
  const max = niceMax(Math.max(...buckets.map((b) => b.transfers)));
  const plotH = H - pad.t - pad.b, step = (W - pad.l - pad.r) / buckets.length;
  axisY(svg, max, pad, W, plotH);
  const every = Math.ceil(buckets.length / Math.max(1, Math.floor((W - pad.l) / 64)));
  buckets.forEach((b, i) => {
    const x = pad.l + i * step;
    let y = pad.t + plotH;
    for (const [o, name, cls] of OUTCOMES) {
      const n = b.outcomes[o] || 0;
      if (!n) continue;
      const hgt = (n / max) * plotH;
      y -= hgt;
      svg.append(s("rect", { x: x + step * 0.12, y, width: Math.max(1, step * 0.76), height: hgt, class: cls },
        tip(`${label.format(b.at)}: ${n} ${name.toLowerCase()}`)));
    }
    if (i % every === 0) {
      svg.append(s("text", { x: x + step / 2, y: H - 6, class: "an-axis", "text-anchor": "middle" }, label.format(b.at)));
    }
  });
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

function axisY(svg, max, pad, W, plotH, format = (v) => num(v)) {
  for (const f of [0, 0.5, 1]) {
    const y = pad.t + plotH - f * plotH;
    svg.append(s("line", { x1: pad.l, x2: W - pad.r, y1: y, y2: y, class: "an-grid" }),
               s("text", { x: pad.l - 6, y: y + 4, class: "an-axis", "text-anchor": "end" }, format(max * f)));
  }
}

// Horizontal rows: a label column, then the bars.
function rowLayout(box, count, rowH) {
  const [svg, W] = canvas(box, count * rowH + 8);
  const labelW = Math.min(180, Math.max(90, W * 0.3));
  return [svg, W, labelW];
}

function rowLabel(svg, text, y, labelW) {
  const short = text.length > 24 ? `${text.slice(0, 23)}…` : text;
  svg.append(s("g", {}, tip(text), s("text", { x: labelW - 8, y, class: "an-label", "text-anchor": "end" }, short)));
}

// One bar per group, split by share: what transfers ended in, or how attempts ended.
function stackedBars(id, list, total, parts, palette, noun) {
  const box = chart(id);
  const shown = list.filter((r) => r[total]);
  if (!shown.length) return empty(box);
  const rowH = 28, [svg, W, labelW] = rowLayout(box, shown.length, rowH);
  const barW = W - labelW - 48;
  shown.forEach((r, i) => {
    const y = 4 + i * rowH;
    rowLabel(svg, r.key, y + rowH / 2 + 3, labelW);
    let x = labelW;
    for (const [key, name, cls] of palette) {
      const n = r[parts][key] || 0;
      if (!n) continue;
      const w = (n / r[total]) * barW;
      svg.append(s("rect", { x, y: y + 5, width: Math.max(1, w), height: rowH - 10, rx: 2, class: cls },
        tip(`${r.key}: ${n} of ${r[total]}${noun} ${name.toLowerCase()} (${pct(n / r[total])})`)));
      x += w;
    }
    svg.append(s("text", { x: labelW + barW + 6, y: y + rowH / 2 + 4, class: "an-value" }, num(r[total])));
  });
}

function rateBars(list) {
  const box = chart("chart-rates");
  const shown = list.filter((r) => r.attempts);
  if (!shown.length) return empty(box);
  const rowH = 40, [svg, W, labelW] = rowLayout(box, shown.length, rowH);
  const barW = W - labelW - 52;
  const max = Math.max(0.05, ...shown.flatMap((r) => RATES.map(([k]) => r.rates[k] || 0)));
  shown.forEach((r, i) => {
    const y = 4 + i * rowH;
    rowLabel(svg, r.key, y + rowH / 2 + 3, labelW);
    RATES.forEach(([k, name, cls], j) => {
      const v = r.rates[k] || 0, by = y + 4 + j * 10;
      svg.append(s("rect", { x: labelW, y: by, width: Math.max(v ? 2 : 0, (v / max) * barW), height: 8, rx: 2, class: cls },
        tip(`${r.key}: ${name.toLowerCase()} ${pct(v)} of ${r.attempts} attempts`)));
      if (v) svg.append(s("text", { x: labelW + (v / max) * barW + 4, y: by + 8, class: "an-value small" }, pct(v)));
    });
  });
}

function rangeBars(id, list, kinds, hangups = false) {
  const box = chart(id);
  const shown = list.filter((r) => kinds.some(([k]) => r[k].n));
  if (!shown.length) return empty(box);
  const lane = 12, rowH = kinds.length * lane + 14, [svg, W, labelW] = rowLayout(box, shown.length + 1, rowH);
  const right = hangups ? 80 : 16, plotW = W - labelW - right;
  const max = niceMax(Math.max(...shown.flatMap((r) => kinds.map(([k]) => r[k].p90 || 0))));
  const x = (v) => labelW + (v / max) * plotW;
  for (const f of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    const gx = labelW + f * plotW, bottom = shown.length * rowH + 8;
    svg.append(s("line", { x1: gx, x2: gx, y1: 4, y2: bottom, class: "an-grid" }),
               s("text", { x: gx, y: bottom + 14, class: "an-axis", "text-anchor": "middle" }, secs(max * f)));
  }
  shown.forEach((r, i) => {
    const y = 6 + i * rowH;
    rowLabel(svg, r.key, y + rowH / 2 + 2, labelW);
    kinds.forEach(([k, name, cls], j) => {
      const t = r[k];
      if (!t.n) return;
      const by = y + j * lane + 2;
      const text = `${r.key}: time to ${name} p50 ${secs(t.p50)}, p90 ${secs(t.p90)}, mean ${secs(t.mean)} (n=${t.n})`;
      svg.append(s("rect", { x: x(t.p50), y: by, width: Math.max(2, x(t.p90) - x(t.p50)), height: lane - 3, rx: 3,
                             class: `${cls} an-range` }, tip(text)),
                 s("circle", { cx: x(t.p50), cy: by + (lane - 3) / 2, r: 4, class: cls }, tip(text)));
    });
    if (hangups) {
      const c = r.hangup_on_hold;
      svg.append(s("g", {}, tip(`${c.count} callers hung up on hold (${pct(c.rate)} of those who held)`),
        s("text", { x: W - 4, y: y + rowH / 2 + 2, class: `an-value${c.count ? " t-hangup-text" : ""}`,
                    "text-anchor": "end" }, `${c.count} hung up`)));
    }
  });
}

function hours(list) {
  const box = chart("chart-hours");
  if (!list.some((r) => r.attempts || r.transfers)) return empty(box);
  const [svg, W] = canvas(box, 124);
  const labelW = 110, cell = (W - labelW - 8) / 24;
  const maxVol = Math.max(...list.map((r) => r.attempts));
  const strips = [
    ["Attempts", (r) => (maxVol ? r.attempts / maxVol : 0), (r) => `${r.attempts} attempts`],
    ["Accepted", (r) => r.rates.accept, (r) => `accept rate ${pct(r.rates.accept)} of ${r.attempts}`],
    ["Connected", (r) => r.rates.success, (r) => `${pct(r.rates.success)} of ${r.transfers} transfers connected`],
  ];
  strips.forEach(([name, value, describe], j) => {
    const y = 4 + j * 32;
    svg.append(s("text", { x: labelW - 8, y: y + 18, class: "an-label", "text-anchor": "end" }, name));
    list.forEach((r, i) => {
      const v = value(r);
      const level = v === null || v === undefined || (!r.attempts && !r.transfers) ? 0 : 1 + Math.min(4, Math.floor(v * 5));
      svg.append(s("rect", { x: labelW + i * cell + 1, y, width: cell - 2, height: 26, rx: 3, class: `heat-${level}` },
        tip(`${String(r.key).padStart(2, "0")}:00: ${describe(r)}`)));
    });
  });
  list.forEach((r, i) => {
    if (i % 3 === 0) {
      svg.append(s("text", { x: labelW + i * cell + cell / 2, y: 118, class: "an-axis", "text-anchor": "middle" },
        `${String(r.key).padStart(2, "0")}h`));
    }
  });
}

function depth(d) {
  const box = chart("chart-depth");
  const entries = Object.entries(d.distribution).map(([k, v]) => [Number(k), v]).sort((a, b) => a[0] - b[0]);
  document.getElementById("an-depth-mean").textContent = d.mean === null ? "" : `mean ${d.mean}`;
  if (!entries.length) return empty(box);
  const H = 170, pad = { l: 36, r: 8, t: 10, b: 24 };
  const [svg, W] = canvas(box, H);
  const max = niceMax(Math.max(...entries.map(([, v]) => v))), plotH = H - pad.t - pad.b;
  const total = entries.reduce((a, [, v]) => a + v, 0);
  axisY(svg, max, pad, W, plotH);
  const step = (W - pad.l - pad.r) / Math.max(entries.length, 6), barW = Math.min(72, step * 0.7);
  entries.forEach(([k, v], i) => {
    const hgt = (v / max) * plotH, x = pad.l + i * step + (step - barW) / 2;
    svg.append(s("rect", { x, y: pad.t + plotH - hgt, width: barW, height: hgt, rx: 3, class: k > 1 ? "d-deep" : "d-first" },
      tip(`${v} transfers (${pct(v / total)}) reached attempt ${k}`)),
      s("text", { x: x + barW / 2, y: pad.t + plotH - hgt - 4, class: "an-value", "text-anchor": "middle" }, num(v)),
      s("text", { x: x + barW / 2, y: H - 8, class: "an-axis", "text-anchor": "middle" },
        k === 0 ? "none dialed" : k === 1 ? "1st" : `${k} deep`));
  });
}

function table(list) {
  const head = h("tr", {}, ...["", "Transfers", "Connected", "Attempts", "Accepted", "Declined", "Voicemail", "No answer",
    "Answer p50/p90", "Hold p50/p90", "Hung up on hold", "Depth"].map((t) => h("th", {}, t)));
  const body_ = list.map((r) => h("tr", {},
    h("th", { scope: "row", title: r.key }, r.key), h("td", {}, num(r.transfers)), h("td", {}, pct(r.rates.success)),
    h("td", {}, num(r.attempts)), h("td", {}, pct(r.rates.accept)), h("td", {}, pct(r.rates.decline)),
    h("td", {}, pct(r.rates.voicemail)), h("td", {}, pct(r.rates.no_answer)),
    h("td", {}, `${secs(r.time_to_answer.p50)} / ${secs(r.time_to_answer.p90)}`),
    h("td", {}, `${secs(r.hold.p50)} / ${secs(r.hold.p90)}`), h("td", {}, num(r.hangup_on_hold.count)),
    h("td", {}, r.depth.mean === null ? "–" : String(r.depth.mean))));
  const all = report[`by_${state.group}`] || [];
  const more = all.length > list.length ? h("caption", {}, `The ${list.length} busiest of ${all.length}.`) : null;
  document.getElementById("an-table").replaceChildren(...[more, h("thead", {}, head), h("tbody", {}, body_)].filter(Boolean));
}

let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(render, 150); });
setupControls();
load();
