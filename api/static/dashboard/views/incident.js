// Incident: its statements as a thread (who answers whom), figures per claimant as ranges
// (contested ones marked), and a replay slider — "as known at" (recorded clock) or "as said
// by" (stated clock) — that shows the incident as it was at each step, what changed since the
// step before highlighted. Below: the same event in other datasets (its linked twins, where
// they disagree, their counts side by side) and the twins proposed but not yet decided.
import { get } from "../api.js";
import { badge, el, figureText, incidentLink, message, place, when } from "../ui.js";

export async function render(main, params, incidentId) {
  const [now, history, group, proposed] = await Promise.all([
    get(`/incidents/${incidentId}`), get(`/incidents/${incidentId}/history`),
    get(`/clusters/${incidentId}`), get("/links/proposals", { incident: incidentId, limit: 20 }),
  ]);
  const clock = params.get("clock") === "recorded" ? "recorded" : "stated";
  const steps = replaySteps(now, history.items, clock);
  const body = el("div", { id: "incident-body" });
  const label = el("output", { id: "replay-label", for: "replay" });
  const slider = el("input", { id: "replay", type: "range", min: 0, max: steps.length - 1,
                               value: steps.length - 1, step: 1, "aria-describedby": "replay-label" });
  const clockChoice = el("select", { id: "replay-clock", onchange: (event) => {
    location.hash = `#/incident/${incidentId}?clock=${event.target.value}`;
  } }, ["stated", "recorded"].map((c) => el("option", { value: c, selected: c === clock },
        c === "stated" ? "as said by (stated clock)" : "as known at (recorded clock)")));
  main.replaceChildren(
    el("h2", {}, now.title),
    el("p", { class: "muted" }, `${now.kind.replaceAll("_", " ")} · ${place(now.location)} · ${when(now.occurred.start)}`),
    el("section", { class: "replay", "aria-label": "Replay" },
      el("label", { for: "replay-clock" }, "Replay "), clockChoice,
      el("label", { for: "replay" }, el("span", { class: "muted" }, " Move through the narrative: ")),
      slider, label),
    body,
  );
  main.querySelector(".replay").before(twins(incidentId, group, proposed.items));
  const marks = el("ol", { class: "steps", id: "replay-steps", "aria-label": "Steps of the replay" },
    steps.map((step, index) => el("li", {}, el("button", { type: "button", class: "secondary", "data-step": index,
      onclick: () => { slider.value = String(index); slider.dispatchEvent(new Event("input")); } }, step.label))));
  main.querySelector(".replay").append(marks);
  let shown = null;
  async function show(index) {
    const step = steps[index];
    label.textContent = step.label;
    for (const button of main.querySelectorAll("#replay-steps button")) {
      button.toggleAttribute("aria-current", Number(button.dataset.step) === index);
    }
    const at = step.at;
    const [view, claims] = await Promise.all([
      at ? get(`/incidents/${incidentId}`, { as_of: at, clock }) : now,
      get("/claims", { incident: incidentId, ...(at ? { as_of: at, clock } : {}) }),
    ]);
    const before = shown;
    shown = view;
    body.replaceChildren(...incidentParts(view, claims.items, before));
  }
  slider.addEventListener("input", () => {
    // (the step is kept in the address: a shared link opens on it)
    window.history.replaceState(null, "", `#/incident/${incidentId}?clock=${clock}&step=${slider.value}`);
    show(Number(slider.value)).catch((e) => body.replaceChildren(message(e.message, "error")));
  });
  const asked = Number.parseInt(params.get("step") ?? "", 10);
  const first = Number.isInteger(asked) && asked >= 0 && asked < steps.length ? asked : steps.length - 1;
  slider.value = String(first);
  await show(first);
}

/** The moments to replay: each statement's stated time (stated clock) or each version's
 * recorded time (recorded clock), then "now". */
function replaySteps(now, versions, clock) {
  const moments = clock === "stated"
    ? [...new Set(now.statements.map((s) => s.stated_at))].sort()
    : versions.map((v) => v.recorded_at);
  const steps = moments.map((at) => ({ at, label: `${clock === "stated" ? "as said by" : "as known at"} ${when(at)}` }));
  steps.push({ at: null, label: "now" });
  return steps;
}

function incidentParts(view, groups, before) {
  const earlier = new Set((before?.statements || []).map((s) => s.id));
  const changed = (name) => before && JSON.stringify(before[name]) !== JSON.stringify(view[name]);
  return [
    el("p", { class: changed("title") || changed("tags") ? "changed" : null },
      `Version ${view.version}. Tags: ${view.tags.join(", ") || "none"}.`, view.retired ? el("strong", {}, ` Retired: ${view.retired.reason}.`) : null),
    view.flags.length ? el("p", { class: "flags", id: "incident-flags" }, "Flagged as published: ",
      view.flags.map((f) => el("span", { class: "flag", title: `${f.field}: ${f.message}` }, f.code.replaceAll("_", " ")))) : null,
    el("h3", {}, "Figures by claimant"),
    figures(groups),
    el("h3", {}, `Statements (${view.statements.length})`),
    thread(view.statements, before ? earlier : null),
  ];
}

/** Per metric and subject: each claimant's figure as a bar on the group's scale. */
function figures(groups) {
  if (!groups.length) return message("No figures given yet.");
  return el("div", { class: "figures", id: "figures" }, groups.map((group) => {
    const top = Math.max(group.high ?? 0, ...group.figures.map((f) => f.high ?? f.value), 1);
    const name = `${group.metric.replaceAll("_", " ")}${group.subject ? ` of ${group.subject}` : ""}`;
    const scale = el("div", { class: "figure-scale", "aria-hidden": "true" }, el("span", {}),
      el("div", { class: "ticks" }, [0, top / 2, top].map((v) => el("span", {}, Number.isInteger(v) ? v : v.toFixed(1)))));
    return el("div", { class: "figure-group", "data-metric": group.metric },
      el("strong", {}, name, ": ", `${group.low}${group.high !== group.low ? `–${group.high}` : ""}`,
        group.contested ? el("span", { class: "contested" }, " contested") : null),
      group.contested && group.disputed_by.length
        ? el("div", { class: "muted" }, `disputed by ${group.disputed_by.map((d) => d.source.name).join(", ")}`) : null,
      group.figures.map((f) => {
        const low = f.low ?? f.value, high = f.high ?? f.value;
        const bar = el("span", {});
        bar.style.left = `${Math.min((100 * low) / top, 99.4)}%`;
        bar.style.width = `${Math.max((100 * (high - low)) / top, 0.6)}%`;
        return el("div", { class: "figure-row" },
          el("span", {}, f.source.name, el("span", { class: "muted" }, ` ${f.value}`)),
          el("div", { class: "bar", role: "img", "aria-label": `${f.source.name}: ${figureText({ ...f, metric: group.metric, subject: group.subject })}` }, bar));
      }), scale);
  }));
}

/** Statements nested under the statement each responds to. */
function thread(statements, earlier) {
  const byId = new Map(statements.map((s) => [s.id, s]));
  const children = new Map();
  const roots = [];
  for (const s of [...statements].sort((a, b) => a.stated_at.localeCompare(b.stated_at))) {
    if (s.responds_to && byId.has(s.responds_to)) {
      if (!children.has(s.responds_to)) children.set(s.responds_to, []);
      children.get(s.responds_to).push(s);
    } else roots.push(s);
  }
  const list = (items) => el("ul", { class: "thread" }, items.map((s) => el("li", {},
    el("article", { class: `statement ${earlier && !earlier.has(s.id) ? "new" : ""} ${s.withdrawn ? "withdrawn" : ""}`, "data-statement": s.id },
      el("div", {}, badge(s.stance), " ", el("strong", {}, s.source.name), el("span", { class: "muted" }, ` (${s.source.side}) · ${when(s.stated_at)}`)),
      el("p", {}, s.text),
      s.figures.length ? el("p", { class: "muted" }, s.figures.map(figureText).join("; ")) : null),
    children.has(s.id) ? list(children.get(s.id)) : null)));
  return statements.length ? list(roots) : message("Nothing said yet.");
}

/** The same event in other datasets: each linked version side by side, where they disagree,
 * and their figures as competing claims (the dataset as claimant) with the spread. */
function twins(incidentId, group, proposed) {
  const others = group.members.filter((m) => m.incident.id !== incidentId);
  const pending = proposed.length
    ? el("p", { id: "proposed-twins" }, `${proposed.length} possible twin(s) not yet decided: `,
        el("a", { href: "#/links" }, "decide them in the queue"), ".")
    : null;
  if (!others.length) {
    return el("section", { id: "twins", "aria-label": "Other datasets" },
      el("h3", {}, "In other datasets"), message("Linked to no other dataset's row."), pending);
  }
  const d = group.disagreement;
  const apart = [d.days_apart ? `starts ${d.days_apart} day(s) apart` : "the same day",
    d.km_apart !== null ? `places ${d.km_apart} km apart` : null,
    d.places.length > 1 ? `named ${d.places.join(" / ")}` : null,
    d.kinds.length > 1 ? `called ${d.kinds.map((k) => k.replaceAll("_", " ")).join(" / ")}` : null];
  return el("section", { id: "twins", "aria-label": "Other datasets" },
    el("h3", {}, `The same event in ${group.members.length} datasets`),
    el("table", { class: "wide", id: "twin-members" },
      el("thead", {}, el("tr", {}, ["Claimant", "Incident", "When", "Where", "Kind"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, group.members.map((m) => el("tr", { class: m.incident.id === incidentId ? "this" : null },
        el("td", {}, m.claimant), el("td", {}, incidentLink(m.incident)), el("td", {}, when(m.incident.occurred.start)),
        el("td", {}, place(m.incident.location)), el("td", {}, m.incident.kind.replaceAll("_", " ")))))),
    el("p", { id: "disagreement" }, "Dates and places: ", apart.filter(Boolean).join("; "), "."),
    group.figures.length
      ? el("div", { id: "competing" }, group.figures.map((f) => el("p", { class: "competing", "data-metric": f.metric },
          el("strong", {}, f.metric.replaceAll("_", " "), ": "),
          f.claims.map((c) => `${c.source} (${c.claimant}) ${c.value}${c.subject ? ` of ${c.subject}` : ""}`).join(", "),
          el("span", { class: f.spread.range ? "contested" : "muted" },
            f.spread.range ? ` (they disagree: ${f.spread.min}–${f.spread.max})`
              : f.claims.length > 1 ? " (they agree)" : " (one figure)"))))
      : message("No figures given."),
    pending);
}
