// Links: the queue of proposals — incidents of different datasets the matcher takes for the
// same event — each with its score and the reasons for it, to confirm or reject. Deciding
// needs a write key; each decision is kept with who made it and why.
import { get, post } from "../api.js";
import { el, message, when, submitsTo } from "../ui.js";

export async function render(main, params) {
  const namespace = params.get("namespace") || "";
  const minScore = params.get("min_score") || "";
  const page = await get("/links/proposals", { namespace, min_score: minScore, limit: 50 });
  const onsubmit = submitsTo("links");
  const filters = el("form", { class: "filters", onsubmit, "aria-label": "Filters" },
    el("label", { for: "filter-namespace" }, "Dataset",
      el("input", { id: "filter-namespace", name: "namespace", value: namespace, placeholder: "e.g. acled" })),
    el("label", { for: "filter-min-score" }, "Score at least",
      el("input", { id: "filter-min-score", name: "min_score", type: "number", min: 0, max: 1, step: 0.05, value: minScore })),
    el("button", { type: "submit" }, "Apply"));
  main.replaceChildren(
    el("h2", {}, "The same event? Proposals to decide"),
    el("p", { class: "muted" }, "Rows of different datasets whose dates, places and kinds agree, best first. ",
      "Link the ones that are one event (their counts then compete side by side); reject the others: ",
      "a rejected pair is not proposed again."),
    filters,
    page.items.length
      ? el("ol", { id: "proposals", class: "proposals" }, page.items.map(proposal))
      : message("Nothing to decide: no open proposal."),
  );
}

function side(incident) {
  return el("div", { class: "proposed" },
    el("a", { href: `#/incident/${incident.id}` }, incident.title || incident.id),
    el("div", { class: "muted" }, [incident.datasets.join(" ") || "an analyst's own",
      incident.kind.replaceAll("_", " "), when(incident.start), incident.place].filter(Boolean).join(" · ")));
}

function proposal(p) {
  const reason = el("input", { name: "reason", required: true, maxlength: 2000,
                               placeholder: "why (kept with the decision)", "aria-label": "Reason" });
  const status = el("span", { class: "muted", role: "status" });
  const buttons = [
    el("button", { type: "button", onclick: () => decide("link") }, "Same event: link"),
    el("button", { type: "button", class: "secondary", onclick: () => decide("reject") }, "Not the same: reject"),
  ];
  const row = el("li", { class: "proposal", "data-pair": `${p.first}|${p.second}` },
    el("div", { class: "pair" }, side(p.incidents[0]), side(p.incidents[1])),
    el("p", {}, el("strong", {}, `score ${p.score.toFixed(2)}`), el("span", { class: "muted" }, ` — ${p.reasons.join("; ")}`)),
    el("div", { class: "decide" }, reason, buttons, status));
  async function decide(decision) {
    if (!reason.value.trim()) {
      reason.focus();
      status.textContent = "Say why first.";
      return;
    }
    status.className = "muted";
    try {
      await post("/links", { incidents: [p.first, p.second], decision, reason: reason.value.trim() });
      row.classList.add("decided");
      for (const button of buttons) button.disabled = true;
      reason.disabled = true;
      status.textContent = decision === "link" ? "Linked." : "Rejected.";
    } catch (error) {
      status.className = "error";
      status.textContent = error.message;
    }
  }
  return row;
}
