// The adclick dashboard: plain JavaScript, no build step. The API key stays
// in this tab's sessionStorage and goes out only as a bearer token.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("adclick.key") || "", chart: null, timer: null };

const views = {
  live: { granularity: "minute", span: 60 * 60e3, refresh: 5e3 },
  hours: { granularity: "hour", span: 48 * 3600e3, refresh: 60e3 },
  days: { granularity: "day", span: 30 * 86400e3, refresh: 300e3 },
  months: { granularity: "month", span: 365 * 86400e3, refresh: 900e3 },
  years: { granularity: "year", span: 4 * 365 * 86400e3, refresh: 3600e3 },
};

async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + state.key } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), { status: res.status });
  return body;
}

async function signIn(key) {
  state.key = key;
  try {
    const [me, camps] = await Promise.all([api("/v1/ads"), api("/v1/campaigns")]);
    sessionStorage.setItem("adclick.key", key);
    $("who").textContent = me.name + " (" + me.advertiser_id + ")";
    // One picker: the advertiser's total, an ad, or a campaign.
    const sel = $("ad");
    sel.length = 1;
    sel.replaceChildren(sel.options[0], group("Ads", me.ads.map((ad) => new Option(ad.name ? ad.ad_id + " — " + ad.name : ad.ad_id, "ad:" + ad.ad_id))),
      group("Campaigns", camps.campaigns.map((c) => new Option(c.campaign_id + " (" + c.ad_ids.length + " ads)", "campaign:" + c.campaign_id))));
    $("signin").hidden = true;
    $("dash").hidden = false;
    $("signout").hidden = false;
    $("error").textContent = "";
    refresh();
  } catch (e) {
    state.key = "";
    sessionStorage.removeItem("adclick.key");
    $("error").textContent = e.status === 401 ? "That API key is not valid." : "Sign-in failed: " + e.message;
  }
}

function signOut() {
  sessionStorage.removeItem("adclick.key");
  location.reload();
}

function group(label, options) {
  const g = document.createElement("optgroup");
  g.label = label;
  g.append(...options);
  return g;
}

// seriesPath is the API path of what the picker names.
function seriesPath(picked, q) {
  const [kind, id] = picked.split(/:(.*)/s);
  if (kind === "ad") return `/v1/ads/${encodeURIComponent(id)}/clicks?${q}`;
  if (kind === "campaign") return `/v1/campaigns/${encodeURIComponent(id)}/clicks?${q}`;
  return `/v1/advertiser/clicks?${q}`;
}

async function refresh() {
  clearTimeout(state.timer);
  const view = views[$("view").value];
  const picked = $("ad").value;
  const tz = $("tz").value.trim() || "UTC";
  // Up to now: the last bucket is the one in progress, none after it.
  const to = new Date(Date.now() + 1e3).toISOString();
  const from = new Date(Date.now() - view.span).toISOString();
  const q = `from=${from}&to=${to}&granularity=${view.granularity}&tz=${encodeURIComponent(tz)}`;
  try {
    const [series, top, topCamps] = await Promise.all([api(seriesPath(picked, q)), api("/v1/advertiser/top?minutes=60&n=10"),
      api("/v1/advertiser/top-campaigns?minutes=60&n=10")]);
    draw(series.points);
    current(series.points, series.tz);
    table(series.points, series.tz);
    topTable($("top"), top.ads.map((a) => [a.ad_id, a.clicks]));
    topTable($("top-campaigns"), topCamps.campaigns.map((c) => [c.campaign_id, c.clicks]));
    await placements(picked, tz);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("error").textContent = "";
  } catch (e) {
    if (e.status === 401) return signOut();
    $("updated").textContent = "error: " + e.message;
  }
  state.timer = setTimeout(refresh, view.refresh);
}

// draw plots final and provisional points as two series, so each has its
// own style; a point shared by both keeps the line continuous. The bucket
// still in progress (open) is left out of the line: drawn, its partial
// count would read as traffic falling off. current() shows it as a number.
function draw(points) {
  const xs = points.map((p) => Date.parse(p.start) / 1000);
  const closed = (p) => p && !p.open;
  const final = points.map((p, i) => (closed(p) && (p.final || (closed(points[i + 1]) && points[i + 1].final)) ? p.clicks : null));
  const prov = points.map((p, i) => (closed(p) && (!p.final || (closed(points[i - 1]) && !points[i - 1].final)) ? p.clicks : null));
  const total = points.reduce((s, p) => s + p.clicks, 0);
  $("total").textContent = "total " + total.toLocaleString();
  $("total").dataset.total = String(total);
  const data = [xs, final, prov];
  const width = Math.min(1060, document.body.clientWidth - 60);
  if (state.chart && state.chart.series.length === 3) {
    state.chart.setData(data);
    return;
  }
  if (state.chart) state.chart.destroy();
  state.chart = new uPlot({
    width, height: 300,
    scales: { x: { time: true } },
    series: [
      {},
      { label: "final", stroke: "#1f6feb", width: 2, spanGaps: false },
      { label: "provisional", stroke: "#d97706", width: 2, dash: [6, 4], spanGaps: false },
    ],
    axes: [{}, { label: "clicks" }],
  }, data, $("chart"));
}

// placements shows, for a picked ad, which placements brought its clicks
// over the last 30 days in tz: reconciled days only, so every number is
// final.
async function placements(picked, tz) {
  const [kind, id] = picked.split(/:(.*)/s);
  $("placements-card").hidden = kind !== "ad";
  $("invalid-card").hidden = kind !== "ad";
  if (kind !== "ad") return;
  const zone = `tz=${encodeURIComponent(tz)}`;
  const [p, inv] = await Promise.all([api(`/v1/ads/${encodeURIComponent(id)}/placements?n=10&${zone}`), api(`/v1/ads/${encodeURIComponent(id)}/invalid?${zone}`)]);
  invalidTable(inv.days, inv.tz);
  topTable($("placements"), p.placements.map((x) => [x.placement_id, x.clicks]));
  const days = p.days_reconciled;
  $("placements-days").textContent = days.length === 0 ? `No reconciled day (${p.tz}) in the last 30 yet: placements are counted by the nightly.`
    : `${days.length} reconciled day(s), ${days[0]} to ${days[days.length - 1]} (${p.tz}), final.`;
}

// invalidTable lists the ad's invalid clicks (not billed) per reconciled
// day in tz and reason, newest first.
function invalidTable(days, tz) {
  const body = $("invalid").tBodies[0];
  body.replaceChildren(...days.slice().reverse().map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.date = d.date;
    tr.dataset.total = String(d.total);
    tr.append(cell(d.date), cell(String(d.reasons.invalid_datacenter), "n"), cell(String(d.reasons.invalid_too_fast), "n"),
      cell(String(d.reasons.invalid_burst), "n"), cell(String(d.total), "n"));
    return tr;
  }));
  $("invalid-days").textContent = days.length === 0 ? `No reconciled day (${tz}) in the last 30 yet: invalid traffic is classified by the nightly.` : `Days in ${tz}.`;
}

// current shows the bucket in progress, if the range holds it.
function current(points, tz) {
  const open = points.find((p) => p.open);
  const el = $("current");
  el.hidden = !open;
  el.dataset.clicks = open ? String(open.clicks) : "";
  if (open) {
    el.textContent = "in progress since " + new Date(open.start).toLocaleString(undefined, { timeZone: tz }) + ": " + open.clicks.toLocaleString() + " so far";
  }
}

function table(points, tz) {
  const body = $("points").tBodies[0];
  body.replaceChildren(...points.slice().reverse().map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.start = p.start;
    tr.dataset.clicks = String(p.clicks);
    tr.append(cell(new Date(p.start).toLocaleString(undefined, { timeZone: tz })), cell(p.clicks.toLocaleString(), "n"),
      cell(p.open ? "in progress" : p.final ? "final" : "provisional", p.open ? "open" : p.final ? "final" : "provisional"));
    return tr;
  }));
}

function topTable(tbl, rows) {
  tbl.tBodies[0].replaceChildren(...rows.map(([id, clicks]) => {
    const tr = document.createElement("tr");
    tr.dataset.id = id;
    tr.dataset.clicks = String(clicks);
    tr.append(cell(id), cell(clicks.toLocaleString(), "n"));
    return tr;
  }));
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("key").value.trim()); });
$("signout").addEventListener("click", signOut);
for (const id of ["ad", "view"]) $(id).addEventListener("change", () => { if (state.chart) { state.chart.destroy(); state.chart = null; } refresh(); });
$("tz").addEventListener("change", refresh);
$("tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
if (state.key) signIn(state.key);
