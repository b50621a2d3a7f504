// Timeline: incidents and statements in time order, filtered, a page at a time, under a time
// axis of the whole filtered result (views/density.js: zoom, pan, drag to pick a period) and
// with an export.
import { download, get } from "../api.js";
import { form, query } from "../filters.js";
import { badge, el, figureText, incidentLink, message, place, when } from "../ui.js";
import { densityAxis } from "./density.js";

const PAGE = 50;

export async function render(main, params) {
  const wanted = query(params);
  const items = [];
  const rows = el("tbody");
  const axis = el("div", { class: "density-slot" });
  // (drawn beside the rows, not before them: counting a narrowed result takes its time)
  densityAxis(query(params, false), (start, end) => {
    const chosen = new URLSearchParams(params);
    chosen.set("from", start);
    chosen.set("to", end);
    location.hash = `#/timeline?${chosen}`;
  }).then((drawn) => axis.replaceChildren(drawn))
    .catch((error) => axis.replaceChildren(message(`Time axis: ${error.message}`, "error")));
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
