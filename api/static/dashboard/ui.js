// Small DOM helpers shared by the views (no framework: the pages are plain DOM).

/** An element: el("a", {href: "#"}, "text", child…); attributes starting "on" are listeners. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function badge(stance) {
  return el("span", { class: `badge ${stance}` }, stance);
}

export function incidentLink(incident) {
  return el("a", { href: `#/incident/${incident.id}` }, incident.title);
}

export function place(location) {
  if (!location) return "";
  return [location.name, location.admin1, location.country].filter(Boolean).join(", ");
}

export function figureText(figure) {
  const range = figure.low !== null || figure.high !== null ? ` (${figure.low ?? "?"}–${figure.high ?? "?"})` : "";
  const about = figure.subject ? ` of ${figure.subject}` : "";
  return `${figure.metric.replaceAll("_", " ")}${about}: ${figure.qualifier ? figure.qualifier.replace("_", " ") + " " : ""}${figure.value}${range}`;
}

export function message(text, kind = "muted") {
  return el("p", { class: kind, role: kind === "error" ? "alert" : null }, text);
}

/** A form's submit handler: its filled fields become the page address's query for ``view``
 * (which renders the view again), so the state is shareable and Back works. */
export function submitsTo(view) {
  return (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name, value] of new FormData(event.target)) if (value) chosen.set(name, value);
    location.hash = `#/${view}?${chosen}`;
  };
}

/** The start of the bucket after the one starting at ``start`` (day, week or month, UTC). */
export function nextBucket(start, interval) {
  const d = new Date(start);
  if (interval === "day") d.setUTCDate(d.getUTCDate() + 1);
  else if (interval === "week") d.setUTCDate(d.getUTCDate() + 7);
  else d.setUTCMonth(d.getUTCMonth() + 1);
  return d;
}
