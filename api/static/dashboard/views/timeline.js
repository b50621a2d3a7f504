// Timeline: incidents and statements in time order, filtered, a page at a time, with a time
// axis (incidents as ranges, statements as points coloured by stance) and an export.
import { download, get } from "../api.js";
import { form, query } from "../filters.js";
import { badge, el, figureText, incidentLink, message, place, when } from "../ui.js";

const PAGE = 50;

export async function render(main, params) {
  const wanted = query(params);
  const items = [];
  const rows = el("tbody");
  const axis = el("div");
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const exportButton = el("button", { type: "button", class: "secondary",
    onclick: () => download("/timeline", { ...wanted, format: "csv" }, "timeline.csv") }, "Export CSV");
  const summary = el("p", { class: "muted", id: "timeline-summary" });
  main.replaceChildren(
    el("h2", {}, "Timeline"), form("timeline", params), axis, summary,
    el("table", { class: "wide", id: "timeline-rows" },
      el("thead", {}, el("tr", {}, ["When", "What", "Incident", "Who", "Said"].map((h) => el("th", { scope: "col" }, h)))),
      rows),
    el("p", {}, more, " ", exportButton),
  );
  let cursor = null;
  async function page() {
    const answer = await get("/timeline", { ...wanted, limit: PAGE, cursor });
    items.push(...answer.items);
    rows.append(...answer.items.map(row));
    cursor = answer.next_cursor;
    more.hidden = !cursor;
    summary.textContent = `${items.length} item(s)${cursor ? " so far" : ""}, as of log position ${answer.position}.`;
    axis.replaceChildren(timeAxis(items));
    if (!items.length) rows.append(el("tr", {}, el("td", { colspan: 5 }, "Nothing matches these filters.")));
  }
  more.addEventListener("click", () => page().catch((error) => main.append(message(error.message, "error"))));
  await page();
}

function row(item) {
  const incident = item.incident;
  if (item.type === "incident") {
    return el("tr", { class: "incident-row" },
      el("td", {}, when(item.at)), el("td", {}, incident.kind.replaceAll("_", " ")),
      el("td", {}, incidentLink(incident), el("div", { class: "muted" }, place(incident.location))),
      el("td", {}, ""), el("td", {}, ""));
  }
  const said = item.statement;
  return el("tr", { class: "statement-row" },
    el("td", {}, when(item.at)), el("td", {}, badge(said.stance)),
    el("td", {}, incidentLink(incident)),
    el("td", {}, said.source.name, el("div", { class: "muted" }, said.source.side)),
    el("td", {}, said.text, said.figures.length ? el("div", { class: "muted" }, said.figures.map(figureText).join("; ")) : null));
}

/** An SVG strip: the span of the items shown, incidents as bars, statements as dots. */
function timeAxis(items) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "axis");
  const width = Math.max(document.getElementById("view").clientWidth - 32, 300);
  svg.setAttribute("viewBox", `0 0 ${width} 90`);
  svg.setAttribute("role", "img");
  if (!items.length) return svg;
  const times = items.flatMap((i) => [Date.parse(i.at), Date.parse(i.incident.occurred.end || i.at)]);
  const start = Math.min(...times), end = Math.max(...times) || start + 1;
  const x = (t) => 10 + (width - 20) * ((t - start) / Math.max(end - start, 1));
  svg.setAttribute("aria-label", `Time axis from ${new Date(start).toISOString()} to ${new Date(end).toISOString()}`);
  const add = (tag, attributes, title) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (title) { const t = document.createElementNS(ns, "title"); t.textContent = title; node.append(t); }
    svg.append(node);
    return node;
  };
  for (const item of items) {
    const at = Date.parse(item.at);
    if (item.type === "incident") {
      const until = Date.parse(item.incident.occurred.end || item.at);
      add("rect", { class: "range", x: x(at), y: 10, width: Math.max(x(until) - x(at), 3), height: 18 }, item.incident.title);
    } else {
      add("circle", { class: `point ${item.statement.stance}`, cx: x(at), cy: 55, r: 5 }, `${item.statement.source.name}: ${item.statement.stance}`);
    }
  }
  add("text", { x: 10, y: 86 }).textContent = when(new Date(start).toISOString());
  add("text", { x: width - 10, y: 86, "text-anchor": "end" }).textContent = when(new Date(end).toISOString());
  return svg;
}
