// The analyst filters, shared by the timeline and the map: kept in the page address
// (#/timeline?kind=strike&…), so a filtered view can be bookmarked and shared.
import { el, submitsTo } from "./ui.js";

export const KINDS = [
  "strike", "shelling", "explosion", "battle", "violence_against_civilians", "ceasefire",
  "violation", "protest", "riot", "mobilisation", "deployment", "assessment", "diplomacy", "other",
];
// The filters both views apply (the timeline adds its own below).
const SHARED = [
  ["q", "Search", "text"], ["kind", "Kind", KINDS], ["actor", "Actor or side", "text"],
  ["country", "Country", "text"], ["from", "From (UTC)", "datetime-local"], ["to", "To (UTC)", "datetime-local"],
  ["as_of", "As known at (UTC)", "datetime-local"], ["clock", "Clock", ["recorded", "stated"]],
];
const STANCES = ["claim", "denial", "confirmation", "correction", "retraction", "assessment", "announcement"];
const TIMELINE_ONLY = [
  ["side", "Speaker's side", "text"], ["type", "Items", ["incident", "statement"]],
  ["stance", "Stance", STANCES], ["source", "Source", "text"],
];
// Every other filter the API has, folded away until asked for.
const MORE = [
  ["tag", "Tag", "text"], ["admin1", "Region (admin1)", "text"], ["namespace", "Dataset", "text"],
  ["metric", "Has a figure of", "text"], ["bbox", "Box (W,S,E,N)", "text"],
  ["retired", "Include retired incidents", "checkbox"],
  ["dedupe", "Linked twins", ["linked"]],
  ["flagged", "Quality flags", ["true", "false"]],
];

/** The API query for the view's filters (dates as UTC timestamps). */
export function query(params, timeline = true) {
  const wanted = {};
  for (const [name] of timeline ? [...SHARED, ...TIMELINE_ONLY, ...MORE] : [...SHARED, ...MORE]) {
    const value = params.get(name);
    if (!value) continue;
    wanted[name] = ["from", "to", "as_of"].includes(name) ? `${value}:00Z` : value;
  }
  if (wanted.as_of === undefined) delete wanted.clock;
  return wanted;
}

/** The filter form; submitting it changes the address, which renders the view again. */
export function form(view, params, timeline = true) {
  const field = ([name, label, kind]) => {
    const id = `filter-${name}`;
    const value = params.get(name) || "";
    const input = Array.isArray(kind)
      ? el("select", { id, name }, name === "clock" ? null : el("option", { value: "" }, "any"),
          kind.map((option) => el("option", { value: option, selected: option === value }, option.replaceAll("_", " "))))
      : kind === "checkbox"
        ? el("input", { id, name, type: "checkbox", value: "true", checked: value === "true" })
        : el("input", { id, name, type: kind, value, step: kind === "datetime-local" ? 60 : null });
    return el("label", { for: id }, label, input);
  };
  const fields = (timeline ? [...SHARED, ...TIMELINE_ONLY] : SHARED).map(field);
  const open = MORE.some(([name]) => params.get(name));
  const more = el("details", { class: "more-filters", open }, el("summary", {}, "More filters"),
    el("div", { class: "filters-more" }, MORE.map(field)));
  const onsubmit = submitsTo(view);
  const reset = el("button", { type: "button", class: "secondary", onclick: () => { location.hash = `#/${view}`; } }, "Clear");
  return el("form", { class: "filters", onsubmit, "aria-label": "Filters" }, fields, more,
    el("button", { type: "submit" }, "Apply"), reset);
}
