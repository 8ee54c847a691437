// The dashboard: camera tiles with live views (and their zones), today's counts, the daily summary, compliance
// per hour (SVG drawn here) and the latest violations. Plain JavaScript against the JSON API; no build step, nothing loaded from elsewhere.
"use strict";
const API = "/api/v1";
const COLOURS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];
const LABELS = { with_mask: "Mask", without_mask: "No mask", mask_worn_incorrectly: "Mask worn incorrectly" };
const MASKED = "with_mask";
const SVG = "http://www.w3.org/2000/svg";
const state = { cameras: [], colour: {}, filter: {}, before: null };

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function getJSON(path) {
  const response = await fetch(API + path, { cache: "no-store" });
  if (response.status === 401) { window.location = "/login"; throw new Error("signed out"); }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function percent(value) { return value === null || value === undefined ? "–" : `${(value * 100).toFixed(0)} %`; }
function localMidnight() { const day = new Date(); day.setHours(0, 0, 0, 0); return day; }

// -- camera tiles ----------------------------------------------------------------------------------------------
function tileFor(camera) {
  let tile = document.querySelector(`.tile[data-camera="${CSS.escape(camera.name)}"]`);
  if (tile) return tile;
  tile = element("article", { class: "tile", "data-camera": camera.name });
  const bar = element("div", { class: "bar" });
  bar.append(element("span", { class: "name" }, camera.name), element("span", { class: "badge" }, camera.status));
  const view = element("div", { class: "view" });
  view.append(element("img", { alt: `live view of ${camera.name}`, hidden: "" }),
              element("span", { class: "none" }, "no picture yet"));
  if (camera.zones && camera.zones.length) view.append(zoneOverlay(camera));
  tile.append(bar, view, element("div", { class: "meta" }));
  document.getElementById("tiles").append(tile);
  const option = element("option", { value: camera.name }, camera.name);
  document.getElementById("filter-camera").append(option);
  return tile;
}

// The camera's zones (fractions of the frame) over its live view, as the server draws them into the frame.
function zoneOverlay(camera) {
  const [width, height] = [camera.width || 640, camera.height || 480];
  const overlay = svg("svg", { class: "zones", viewBox: `0 0 ${width} ${height}`,
                               preserveAspectRatio: "xMidYMid meet", "aria-label": "zones where faces count" });
  for (const zone of camera.zones) {
    const points = zone.map(([x, y]) => `${(x * width).toFixed(1)},${(y * height).toFixed(1)}`).join(" ");
    overlay.append(svg("polygon", { class: "zone", points }));
  }
  return overlay;
}

function refreshLive(tile, camera) {
  const picture = tile.querySelector("img");
  if (!camera.online || picture.dataset.loading === "1") return;
  picture.dataset.loading = "1";
  const next = new Image();
  next.onload = () => {
    picture.src = next.src; picture.hidden = false; picture.dataset.loading = "0";
    picture.dataset.frames = String(camera.frames);
    tile.querySelector(".none").hidden = true;
  };
  next.onerror = () => { picture.dataset.loading = "0"; };
  next.src = `${API}/cameras/${encodeURIComponent(camera.name)}/live.jpg?frame=${camera.frames}`;
}

async function refreshCameras() {
  const answer = await getJSON("/cameras");
  state.cameras = answer.cameras;
  answer.cameras.forEach((camera, index) => {
    state.colour[camera.name] = COLOURS[index % COLOURS.length];
    const tile = tileFor(camera);
    tile.className = `tile ${camera.online ? "online" : "offline"}`;
    tile.dataset.status = camera.status;
    tile.dataset.frames = camera.frames;
    tile.dataset.faces = camera.faces_in_view;
    tile.querySelector(".badge").textContent = camera.online ? "online" : camera.status;
    const overlay = tile.querySelector("svg.zones");
    if (overlay && camera.width && overlay.getAttribute("viewBox") !== `0 0 ${camera.width} ${camera.height}`) {
      overlay.replaceWith(zoneOverlay(camera));  // drawn again once the frame size is known
    }
    const meta = tile.querySelector(".meta");
    meta.replaceChildren();
    const zones = camera.zones && camera.zones.length ? ` · ${camera.zones.length} zone(s)` : "";
    meta.append(element("span", { class: "fps" }, `${camera.fps.toFixed(1)} FPS`),
                document.createTextNode(` · ${camera.frames} frames · ${camera.faces_in_view} in view · ` +
                                        `${camera.events} flagged · ${camera.kind} ${camera.source}${zones}`));
    if (!camera.online && camera.message) meta.append(element("div", { class: "error" }, camera.message));
    if (!camera.online) {
      const none = tile.querySelector(".none");
      if (tile.querySelector("img").hidden) none.textContent = camera.status === "starting" ? "starting…" : "offline";
    }
    refreshLive(tile, camera);
  });
}

// -- today's counts -------------------------------------------------------------------------------------------
async function refreshToday() {
  const answer = await getJSON(`/counts?per=total&since=${encodeURIComponent(localMidnight().toISOString())}`);
  const totals = {};
  const byCamera = [];
  for (const row of answer.rows) {
    for (const [label, people] of Object.entries(row.counts)) totals[label] = (totals[label] || 0) + people;
    byCamera.push(`${row.camera}: ${row.people} people, ${percent(row.compliance)} masked`);
  }
  const people = Object.values(totals).reduce((a, b) => a + b, 0);
  const masked = totals[MASKED] || 0;
  document.getElementById("people").textContent = people;
  document.getElementById("masked").textContent = masked;
  document.getElementById("flagged").textContent = people - masked;
  document.getElementById("compliance").textContent = people ? percent(masked / people) : "–";
  document.getElementById("today-by-camera").textContent = byCamera.join(" · ");
}

// -- the daily summary: the last 7 days, per camera, in the browser's time zone ---------------------------------------
async function refreshDaily() {
  const offset = -new Date().getTimezoneOffset();
  const answer = await getJSON(`/summary?days=7&utc_offset=${offset}`);
  const body = document.querySelector("#daily tbody");
  body.replaceChildren();
  for (const row of [...answer.days].reverse()) {
    const line = element("tr", { "data-camera": row.camera, "data-day": row.day });
    for (const value of [row.day, row.camera, row.people, row.masked, row.flagged, percent(row.compliance)]) {
      line.append(element("td", {}, String(value)));
    }
    body.append(line);
  }
  if (!answer.days.length) {
    const line = element("tr", { class: "empty" });
    line.append(element("td", { colspan: "6" }, "Nobody seen in the last 7 days."));
    body.append(line);
  }
}

// -- the chart: compliance per hour over the last 24 h, one line per camera ---------------------------------------
function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function refreshChart() {
  const hour = 3600 * 1000;
  const end = Math.floor(Date.now() / hour) * hour + hour;  // the end of the current hour
  const start = end - 24 * hour;
  const answer = await getJSON(`/counts?per=hour&since=${encodeURIComponent(new Date(start).toISOString())}`);
  const chart = document.getElementById("chart");
  const [width, height, left, right, top, bottom] = [960, 240, 44, 30, 12, 28];
  const x = (time) => left + (time - start) / (end - start) * (width - left - right);
  const y = (share) => top + (1 - share) * (height - top - bottom);
  chart.replaceChildren();
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(share), y2: y(share) }));
    chart.append(svg("text", { class: "axis", x: left - 6, y: y(share) + 4, "text-anchor": "end" },
                     `${share * 100}%`));
  }
  for (let time = start; time <= end; time += 3 * hour) {
    const label = new Date(time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    chart.append(svg("text", { class: "axis", x: x(time), y: height - 8, "text-anchor": "middle" }, label));
  }
  const series = {};
  for (const row of answer.rows) {
    if (row.compliance === null) continue;
    (series[row.camera] = series[row.camera] || []).push([Date.parse(row.start) + hour / 2, row.compliance, row.people]);
  }
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  for (const camera of state.cameras) {
    const colour = state.colour[camera.name];
    const points = series[camera.name] || [];
    const item = element("span", { style: `--c: ${colour}` }, `${camera.name}${points.length ? "" : " (nobody seen)"}`);
    legend.append(item);
    if (!points.length) continue;
    points.sort((a, b) => a[0] - b[0]);
    const path = points.map(([time, share], i) => {
      const gap = i > 0 && time - points[i - 1][0] > hour * 1.5;  // hours without people break the line
      return `${i === 0 || gap ? "M" : "L"}${x(time).toFixed(1)},${y(share).toFixed(1)}`;
    }).join(" ");
    chart.append(svg("path", { class: "series", d: path, stroke: colour, "data-camera": camera.name }));
    for (const [time, share, people] of points) {
      const dot = svg("circle", { cx: x(time), cy: y(share), r: 4, fill: colour, class: "point" });
      dot.append(svg("title", {}, `${camera.name}, ${new Date(time - hour / 2).toLocaleString()}: ` +
                                   `${percent(share)} of ${people} people masked`));
      chart.append(dot);
    }
  }
  chart.dataset.drawn = String(Date.now());
}

// -- latest violations ----------------------------------------------------------------------------------------
function violationCard(event) {
  const card = element("article", { class: "violation", "data-event": event.id, "data-camera": event.camera });
  if (event.snapshots.face) {
    const face = element("img", { class: "face", alt: `face of event ${event.id}`, src: event.snapshots.face });
    if (event.snapshots.frame) {
      face.addEventListener("click", () => {
        document.getElementById("viewer-image").src = event.snapshots.frame;
        document.getElementById("viewer").showModal();
      });
    }
    card.append(face);
  }
  const text = element("div", { class: "text" });
  text.append(element("div", { class: `label ${event.label}` },
                      `${LABELS[event.label] || event.label} ${(event.probability * 100).toFixed(0)} %`),
              element("div", {}, event.camera),
              element("time", { datetime: event.time }, new Date(event.time).toLocaleString()));
  card.append(text);
  return card;
}

async function loadViolations(append = false) {
  const query = new URLSearchParams({ limit: "24" });
  for (const [name, value] of Object.entries(state.filter)) if (value) query.set(name, value);
  if (append && state.before) query.set("before", state.before);
  const answer = await getJSON(`/events?${query}`);
  const list = document.getElementById("violations");
  if (!append) {
    const shown = [...list.querySelectorAll(".violation")].map((card) => card.dataset.event).join();
    if (shown === answer.events.map((event) => String(event.id)).join() && shown) return;
    list.replaceChildren();
  }
  answer.events.forEach((event) => list.append(violationCard(event)));
  if (!list.children.length) list.append(element("p", { class: "empty" }, "No violations in this range."));
  state.before = answer.next_before;
  document.getElementById("older").hidden = !answer.next_before;
}

function readFilter() {
  const local = (id) => {
    const value = document.getElementById(id).value;
    return value ? new Date(value).toISOString() : "";
  };
  state.filter = { camera: document.getElementById("filter-camera").value, since: local("filter-since"),
                   until: local("filter-until") };
}

document.getElementById("filter").addEventListener("submit", (event) => {
  event.preventDefault(); readFilter(); loadViolations().catch(console.error);
});
document.getElementById("filter-clear").addEventListener("click", () => {
  document.getElementById("filter").reset(); readFilter(); loadViolations().catch(console.error);
});
document.getElementById("older").addEventListener("click", () => loadViolations(true).catch(console.error));

// -- polling --------------------------------------------------------------------------------------------------
function every(milliseconds, task) {
  const run = () => task().catch(console.error).finally(() => setTimeout(run, milliseconds));
  run();
}

refreshCameras().catch(console.error).finally(() => {
  every(700, refreshCameras);
  every(5000, refreshToday);
  every(10000, refreshDaily);
  every(3000, () => (state.filter.until ? Promise.resolve() : loadViolations()));
  every(15000, refreshChart);
});
