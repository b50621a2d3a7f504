// Ceasefires: each window against the fighting reported inside it — held, violated, disputed.
import { get } from "../api.js";
import { badge, el, incidentLink, message, when } from "../ui.js";

export async function render(main) {
  const answer = await get("/ceasefires", { limit: 100 });
  main.replaceChildren(el("h2", {}, "Ceasefires"),
    answer.items.length ? el("div", { id: "ceasefires" }, answer.items.map(ceasefire)) : message("No ceasefire recorded."));
}

function ceasefire(c) {
  return el("section", { class: "statement", "data-status": c.status },
    el("h3", {}, incidentLink(c), " ", el("span", { class: `status-${c.status}` }, c.status)),
    el("p", { class: "muted" }, `From ${when(c.window.start)} until ${c.window.end ? when(c.window.end) : "further notice"} · `,
      `parties ${c.parties.join(", ") || "unnamed"} · scope ${c.scope || "everywhere"} · declared by `,
      c.declared_by.map((d) => d.name).join(", ") || "nobody on record"),
    c.violations.length
      ? el("table", { class: "wide" },
          el("thead", {}, el("tr", {}, ["Fighting", "When", "Accused", "Reported by", "Denied by", "Status"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, c.violations.map((v) => el("tr", {},
            el("td", {}, incidentLink(v)), el("td", {}, when(v.start)), el("td", {}, v.accused.join(", ")),
            el("td", {}, v.reported_by.map((r) => r.name).join(", ")),
            el("td", {}, v.denied_by.map((r) => r.name).join(", ")), el("td", {}, badge(v.status))))))
      : message("No fighting reported inside its window."));
}
