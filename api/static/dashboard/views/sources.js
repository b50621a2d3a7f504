// Sources: each source's track record — what it claimed, denied, and how often others
// contradicted it.
import { get } from "../api.js";
import { el, when } from "../ui.js";

const COLUMNS = [
  ["name", "Source"], ["side", "Side"], ["type", "Type"], ["statements", "Statements"],
  ["claims", "Claims"], ["denials_issued", "Denials issued"], ["denied", "Denied by others"],
  ["contradicted", "Contradicted"], ["corrections", "Corrections"], ["retractions", "Retractions"],
];

export async function render(main) {
  const answer = await get("/sources", { limit: 200 });
  main.replaceChildren(el("h2", {}, "Sources"),
    el("table", { class: "wide", id: "sources" },
      el("thead", {}, el("tr", {}, [...COLUMNS.map(([, h]) => h), "Active"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, answer.items.map((s) => el("tr", {},
        COLUMNS.map(([name]) => el("td", {}, s[name] ?? "")),
        el("td", {}, `${when(s.first_statement_at)} – ${when(s.last_statement_at)}`))))));
}
