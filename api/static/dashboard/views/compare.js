// Compare: what changed between two moments — on the recorded clock (what the service learned)
// or the stated clock (what the sources published; two release dates of a dataset show what
// the later release changed): incidents added, restored, changed field by field, retired, as
// a list and on a map. The two moments and the clock are kept in the page address.
import { get } from "../api.js";
import { baseMap } from "../basemap.js";
import { el, incidentLink, message, place, when, submitsTo } from "../ui.js";

const CHANGES = [["added", "Added"], ["restored", "Restored"], ["changed", "Changed"], ["retired", "Retired"]];
const COLOURS = { added: "#1b6e3a", restored: "#0b5cad", changed: "#7a5a00", retired: "#b3261e" };
const PAGE = 250; // changes a request (the first page is drawn as soon as it comes)
const MOST = 5000; // changes shown at the most

export async function render(main, params, _id, signal) {
  const start = params.get("from") || "";
  const end = params.get("to") || "";
  const clock = params.get("clock") === "stated" ? "stated" : "recorded";
  const namespace = params.get("namespace") || "";
  const field = (id, label, input) => el("label", { for: id }, label, input);
  const onsubmit = submitsTo("compare");
  const form = el("form", { class: "filters", onsubmit, "aria-label": "Moments to compare" },
    field("compare-from", "From (UTC)", el("input", { id: "compare-from", name: "from", type: "datetime-local", step: 1, value: start, required: true })),
    field("compare-to", "To (UTC)", el("input", { id: "compare-to", name: "to", type: "datetime-local", step: 1, value: end, required: true })),
    field("compare-clock", "Clock", el("select", { id: "compare-clock", name: "clock" },
      [["recorded", "as recorded (what the service learned)"], ["stated", "as published (the sources' clock)"]]
        .map(([value, text]) => el("option", { value, selected: value === clock }, text)))),
    field("compare-namespace", "Dataset", el("input", { id: "compare-namespace", name: "namespace", value: namespace, placeholder: "any, or e.g. acled" })),
    el("button", { type: "submit" }, "Compare"));
  const heading = el("h2", {}, "What changed between two moments");
  const releases = (await get("/releases")).items;
  if (releases.length) form.append(releasePicker(releases, { start, end, clock, namespace }));
  if (!start || !end) {
    main.replaceChildren(heading, form, message("Choose two moments (and a clock) to compare."));
    return;
  }
  const ask = (cursor) => get("/changes", { from: utc(start), to: utc(end), clock, namespace, limit: PAGE, cursor });
  let page = await ask(null);
  if (!page.items.length) {
    main.replaceChildren(heading, form, message("Nothing changed between these moments."));
    return;
  }
  const counts = Object.fromEntries(CHANGES.map(([name]) => [name, 0]));
  const tallies = CHANGES.map(([name, label]) => el("span", { class: "change-count", "data-change": name }, `${label}: 0`));
  const status = el("span", { class: "muted", role: "status" });
  const list = el("ol", { id: "changes", class: "changes" });
  const holder = el("div", { id: "compare-map", role: "region", "aria-label": "Map of the changes" });
  main.replaceChildren(heading, form, el("p", { id: "compare-summary" }, tallies.flatMap((t) => [t, " "]), status),
    holder, list);
  const map = await baseMap(holder);
  const points = [];
  const show = (items) => {
    for (const item of items) counts[item.change] += 1;
    tallies.forEach((tally, n) => { tally.textContent = `${CHANGES[n][1]}: ${counts[CHANGES[n][0]]}`; });
    list.append(...items.map(change));
    points.push(...placeOn(map, items));
  };
  show(page.items);
  if (points.length) map.fitBounds(points, { maxZoom: 7, padding: [20, 20], animate: false });
  holder.dataset.ready = "true";
  // The first page is drawn: the rest follow while the page is read (up to MOST)
  (async () => {
    let shown = page.items.length;
    while (page.next_cursor && shown < MOST && !signal?.aborted) {
      status.textContent = "loading more…";
      page = await ask(page.next_cursor);
      if (signal?.aborted) return;
      show(page.items);
      shown += page.items.length;
    }
    status.textContent = page.next_cursor ? `(the first ${MOST.toLocaleString("en")})` : "";
  })().catch((error) => { status.textContent = error.message; });
}

/** Two releases of a dataset to compare: their times on the stated clock, the dataset. */
function releasePicker(releases, chosen) {
  const option = (r) => el("option", { value: `${r.namespace}|${r.stated_at}`,
    selected: chosen.clock === "stated" && chosen.namespace === r.namespace && r.stated_at.startsWith(chosen.end) },
    `${r.namespace} · ${when(r.stated_at)} (${r.rows} rows)`);
  const later = el("select", { id: "compare-release", "aria-label": "A release" },
    el("option", { value: "" }, "choose a release…"), releases.map(option));
  later.addEventListener("change", () => {
    const [namespace, stated] = later.value.split("|");
    const same = releases.filter((r) => r.namespace === namespace);
    const previous = same.find((r) => r.stated_at === stated)?.previous;
    if (!stated) return;
    // (the first release of a dataset: everything it listed was added)
    const chosenNow = new URLSearchParams({ from: (previous || "1900-01-01T00:00:00").slice(0, 19), to: stated.slice(0, 19),
                                            clock: "stated", namespace });
    location.hash = `#/compare?${chosenNow}`;
  });
  return el("label", { for: "compare-release" }, "Or what a release changed", later);
}

/** A datetime-local value (seconds left out when zero) as a UTC timestamp. */
function utc(value) {
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}

function change(item) {
  const fields = Object.entries(item.fields_changed);
  return el("li", { class: "change", "data-change": item.change },
    el("span", { class: `badge change-${item.change}` }, item.change), " ", incidentLink(item.incident),
    el("span", { class: "muted" }, ` · ${[item.incident.kind.replaceAll("_", " "), when(item.incident.occurred.start), place(item.incident.location)].filter(Boolean).join(" · ")}`),
    fields.length ? el("ul", { class: "field-changes" }, fields.map(([name, values]) =>
      el("li", {}, el("strong", {}, name.replaceAll("_", " ")), ": ", shown(values.from), " → ", shown(values.to)))) : null,
    item.statements_said ? el("div", { class: "muted" }, `${item.statements_said} statement(s) meanwhile`) : null);
}

function shown(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value !== "object") return String(value);
  if (value.name !== undefined) return place(value); // a place
  if (value.start !== undefined) return `${when(value.start)}${value.end ? ` – ${when(value.end)}` : ""}`;
  return JSON.stringify(value);
}

/** A circle per changed incident with coordinates, coloured by its change; their points. */
function placeOn(map, items) {
  const L = window.L;
  const points = [];
  for (const item of items) {
    const where = item.incident.location;
    if (where?.lat === null || where?.lat === undefined) continue;
    const marker = L.circleMarker([where.lat, where.lon], { radius: 7, color: COLOURS[item.change], weight: 2, fillOpacity: 0.7 });
    marker.bindPopup(() => el("div", {}, incidentLink(item.incident), el("div", {}, item.change)));
    marker.addTo(map);
    points.push([where.lat, where.lon]);
  }
  return points;
}
