// Charts: counts over time — incidents, statements, or a metric's figures — by kind, country,
// region, actor, the speaker's side or the claimant's, drawn with Observable Plot from the
// server's aggregates (the whole filtered result, not a page). Each chart downloads as SVG,
// as PNG, and as the CSV behind it. Its settings are kept in the page address.
import { get } from "../api.js";
import { el, message, nextBucket, submitsTo } from "../ui.js";

const MEASURES = [["incidents", "Incidents"], ["statements", "Statements"], ["figure:killed", "Killed (figures given)"],
  ["figure:wounded", "Wounded (figures given)"]];
const GROUPS = [["", "nothing"], ["kind", "kind"], ["country", "country"], ["admin1", "region (admin1)"],
  ["actor", "actor"], ["dataset", "dataset"], ["source_side", "speaker's side (statements)"], ["claimant_side", "claimant's side (figures)"]];
const INTERVALS = ["day", "week", "month"];

export async function render(main, params) {
  const measure = params.get("measure") || "incidents";
  const group = params.get("group_by") || "kind";
  const interval = INTERVALS.includes(params.get("interval")) ? params.get("interval") : "month";
  const namespace = params.get("namespace") || "";
  const select = (id, name, options, value) => el("select", { id, name }, options.map(([v, text]) =>
    el("option", { value: v, selected: v === value }, text)));
  const onsubmit = submitsTo("charts");
  const form = el("form", { class: "filters", onsubmit, "aria-label": "Chart" },
    el("label", { for: "chart-measure" }, "Count", select("chart-measure", "measure", MEASURES, measure)),
    el("label", { for: "chart-group" }, "By", select("chart-group", "group_by", GROUPS, group)),
    el("label", { for: "chart-interval" }, "Per", select("chart-interval", "interval", INTERVALS.map((i) => [i, i]), interval)),
    el("label", { for: "chart-namespace" }, "Dataset", el("input", { id: "chart-namespace", name: "namespace", value: namespace, placeholder: "any, or e.g. acled" })),
    el("button", { type: "submit" }, "Draw"));
  const answer = await get("/aggregates", { measure, group_by: group, interval, namespace });
  const figures = measure.startsWith("figure:");
  const rows = answer.items.map((b) => ({ start: new Date(b.start), group: b.group ?? "(none)",
    value: figures ? b.best : b.count, count: b.count, low: b.low, high: b.high }));
  const title = `${MEASURES.find(([v]) => v === measure)?.[1] ?? measure} per ${interval}${group ? `, by ${GROUPS.find(([v]) => v === group)[1]}` : ""}`;
  const figure = el("figure", { id: "chart", class: "chart" });
  const downloads = el("p", { class: "downloads" },
    el("button", { type: "button", class: "secondary", onclick: () => saveSvg(figure, "chart.svg") }, "Download SVG"), " ",
    el("button", { type: "button", class: "secondary", onclick: () => savePng(figure, "chart.png") }, "Download PNG"), " ",
    el("button", { type: "button", class: "secondary", onclick: () => saveCsv(answer.items, "chart.csv") }, "Download CSV"));
  main.replaceChildren(el("h2", {}, "Charts"), form, el("h3", {}, title),
    rows.length ? figure : message("Nothing to count for these settings."), rows.length ? downloads : null,
    el("p", { class: "muted" }, `As of log position ${answer.position}.`));
  if (!rows.length) return;
  const Plot = window.Plot;
  const chart = Plot.plot({
    width: Math.min(main.clientWidth || 960, 1200), height: 360, marginLeft: 56,
    x: { type: "utc", label: null }, y: { grid: true, label: figures ? `${measure.slice(7)} (sum of best values)` : "count" },
    color: { legend: Boolean(group), scheme: "tableau10" },
    marks: [
      Plot.rectY(rows, Plot.stackY({ x1: "start", x2: (d) => nextBucket(d.start, interval), y: "value",
        fill: group ? "group" : undefined, title: (d) => `${d.group}: ${d.value}`, insetLeft: 0.5, insetRight: 0.5 })),
      Plot.ruleY([0]),
    ],
  });
  figure.replaceChildren(chart);
  figure.dataset.ready = "true";
}

function svgOf(figure) {
  const svg = figure.querySelector("svg");
  const copy = svg.cloneNode(true);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  return { text: new XMLSerializer().serializeToString(copy), width: svg.width.baseVal.value, height: svg.height.baseVal.value };
}

function save(blob, filename) {
  const link = el("a", { href: URL.createObjectURL(blob), download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function saveSvg(figure, filename) {
  save(new Blob([svgOf(figure).text], { type: "image/svg+xml" }), filename);
}

function savePng(figure, filename) {
  const { text, width, height } = svgOf(figure);
  const image = new Image();
  image.onload = () => {
    const canvas = el("canvas", { width: width * 2, height: height * 2 });
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => save(blob, filename), "image/png");
  };
  // (a data: URL: the page's Content-Security-Policy lets images come from 'self' and data:)
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
}

function saveCsv(items, filename) {
  const columns = ["start", "group", "count", "best", "low", "high"];
  const cell = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const text = [columns.join(","), ...items.map((b) => columns.map((c) => cell(b[c])).join(","))].join("\n") + "\n";
  save(new Blob([text], { type: "text/csv" }), filename);
}
