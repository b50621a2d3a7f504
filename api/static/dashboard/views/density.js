// The timeline's time axis over the whole filtered result: incidents and statements per day,
// week or month, counted by the server (its aggregates), not drawn from the page of rows.
// Zoom and pan with the wheel or the buttons (the ticks adapt); drag across the strip to pick
// a period, which becomes the From/To filters (and the rows below show that period).
import { get } from "../api.js";
import { el, nextBucket } from "../ui.js";

const HEIGHT = 150;
const MARGIN = { top: 10, right: 12, bottom: 24, left: 40 };
const SERIES = [["incidents", "Incidents (by when they occurred)", "#4e79a7"], ["statements", "Statements (by when they were said)", "#e15759"]];

/** The strip for the incident filters (``wanted``: the map's query of the filters), and the period
 * chosen so far (``from``/``to``, datetime-local values); ``choose`` gets a new period. */
export async function densityAxis(wanted, choose) {
  const d3 = window.d3;
  // (the incident filters, without the period, the text and the box: /aggregates counts over
  // the whole span, and narrows by what an incident's picture holds)
  const { from, to, q, bbox, ...scope } = wanted;
  let interval = "month";
  let counts = await both(scope, interval);
  const span = extent(counts);
  if (span && span[1] - span[0] < 400 * 864e5) {  // (under about a year: by week, or by day)
    interval = span[1] - span[0] < 120 * 864e5 ? "day" : "week";
    counts = await both(scope, interval);
  }
  const holder = el("div", { class: "density", id: "density" });
  if (!counts.incidents.length && !counts.statements.length) return holder;
  const width = Math.max(document.getElementById("view").clientWidth - 32, 320);
  const full = extent(counts);
  const x0 = d3.scaleUtc().domain([full[0], nextBucket(full[1], interval)]).range([MARGIN.left, width - MARGIN.right]);
  let x = x0.copy();
  const top = d3.max([...counts.incidents, ...counts.statements], (d) => d.count) || 1;
  const y = d3.scaleLinear().domain([0, top]).nice().range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  const svg = d3.create("svg").attr("viewBox", `0 0 ${width} ${HEIGHT}`).attr("class", "density-chart")
    .attr("role", "img").attr("aria-label", `Incidents and statements per ${interval}; drag to choose a period`);
  const clip = `density-clip`;
  svg.append("clipPath").attr("id", clip).append("rect").attr("x", MARGIN.left).attr("y", 0)
    .attr("width", width - MARGIN.left - MARGIN.right).attr("height", HEIGHT);
  const bars = svg.append("g").attr("clip-path", `url(#${clip})`);
  const xAxis = svg.append("g").attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`);
  svg.append("g").attr("transform", `translate(${MARGIN.left},0)`).call(d3.axisLeft(y).ticks(4, "d"));
  function draw() {
    bars.selectAll("*").remove();
    SERIES.forEach(([name, , colour], n) => {
      bars.append("g").attr("fill", colour).attr("fill-opacity", 0.75).selectAll("rect").data(counts[name]).join("rect")
        .attr("x", (d) => x(d.start) + (n ? (x(nextBucket(d.start, interval)) - x(d.start)) / 2 : 0))
        .attr("width", (d) => Math.max((x(nextBucket(d.start, interval)) - x(d.start)) / 2 - 0.5, 1))
        .attr("y", (d) => y(d.count)).attr("height", (d) => y(0) - y(d.count))
        .append("title").text((d) => `${d.count} ${name}, ${interval} of ${d.start.toISOString().slice(0, 10)}`);
    });
    xAxis.call(d3.axisBottom(x).ticks(Math.max(Math.floor(width / 110), 2)));
    holder.dataset.domain = x.domain().map((d) => d.toISOString()).join("/");
  }
  const zoom = d3.zoom().scaleExtent([1, 400]).translateExtent([[MARGIN.left, 0], [width - MARGIN.right, HEIGHT]])
    .extent([[MARGIN.left, 0], [width - MARGIN.right, HEIGHT]])
    .filter((event) => event.type === "wheel" || event.type === "dblclick")  // (dragging picks a period)
    .on("zoom", (event) => { x = event.transform.rescaleX(x0); draw(); });
  const brush = d3.brushX().extent([[MARGIN.left, MARGIN.top], [width - MARGIN.right, HEIGHT - MARGIN.bottom]])
    .on("end", (event) => {
      if (!event.selection || !event.sourceEvent) return;
      const [a, b] = event.selection.map((p) => x.invert(p));
      choose(local(a), local(b));
    });
  svg.append("g").attr("class", "brush").call(brush);
  svg.call(zoom);
  draw();
  const button = (label, text, action) => el("button", { type: "button", class: "secondary", "aria-label": label, onclick: action }, text);
  const by = (k) => svg.transition().duration(0).call(zoom.scaleBy, k);
  const pan = (d) => svg.transition().duration(0).call(zoom.translateBy, d, 0);
  holder.append(
    el("div", { class: "density-tools" },
      el("span", { class: "legend" }, SERIES.map(([, label, colour]) =>
        el("span", { class: "key" }, el("span", { class: "swatch", style: `background:${colour}` }), label))),
      el("span", { class: "muted" }, ` per ${interval}. `),
      button("Zoom in", "+", () => by(2)), button("Zoom out", "−", () => by(0.5)),
      button("Earlier", "◀", () => pan((width / 4) / d3.zoomTransform(svg.node()).k)),
      button("Later", "▶", () => pan(-(width / 4) / d3.zoomTransform(svg.node()).k)),
      button("Whole span", "Reset", () => svg.transition().duration(0).call(zoom.transform, d3.zoomIdentity))),
    svg.node());
  return holder;
}

async function both(scope, interval) {
  const [incidents, statements] = await Promise.all(["incidents", "statements"].map((measure) =>
    get("/aggregates", { ...scope, measure, interval })));
  const rows = (answer) => answer.items.map((b) => ({ start: new Date(b.start), count: b.count }));
  return { incidents: rows(incidents), statements: rows(statements) };
}

function extent(counts) {
  const starts = [...counts.incidents, ...counts.statements].map((d) => d.start.getTime());
  return starts.length ? [new Date(Math.min(...starts)), new Date(Math.max(...starts))] : null;
}

/** A moment as the filter form's datetime-local value (UTC, to the minute). */
function local(date) {
  return date.toISOString().slice(0, 16);
}
