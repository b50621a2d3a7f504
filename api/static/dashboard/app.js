// The dashboard: a page per address (#/timeline, #/map, #/charts, #/incident/ID, #/ceasefires,
// #/sources, #/links, #/compare, #/live), each drawn from the public API. Asks for a read key when the service
// wants one, and keeps it for this tab only.
import { NeedsKey, rememberKey } from "./api.js";
import { message } from "./ui.js";
import * as ceasefires from "./views/ceasefires.js";
import * as charts from "./views/charts.js";
import * as compare from "./views/compare.js";
import * as incident from "./views/incident.js";
import * as links from "./views/links.js";
import * as live from "./views/live.js";
import * as map from "./views/map.js";
import * as sources from "./views/sources.js";
import * as timeline from "./views/timeline.js";

const VIEWS = { timeline, map, charts, incident, ceasefires, sources, links, compare, live };
const main = document.getElementById("view");
let leaving = new AbortController();

async function route() {
  leaving.abort(); // stop what the last page was doing (the live feed)
  leaving = new AbortController();
  const [path, search = ""] = (location.hash.slice(1) || "/timeline").split("?");
  const [, name, id] = path.split("/");
  const view = VIEWS[name] || timeline;
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name}`);
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  document.title = `${name ? name[0].toUpperCase() + name.slice(1) : "Timeline"} · Conflict timeline`;
  delete main.dataset.ready; // set again once the page has drawn itself
  main.replaceChildren(message("Loading…"));
  try {
    await view.render(main, new URLSearchParams(search), id, leaving.signal);
    main.dataset.ready = name || "timeline";
  } catch (error) {
    if (error instanceof NeedsKey) askForKey();
    else if (error.name !== "AbortError") {
      console.error(error); // (a browser test fails on any console error)
      main.replaceChildren(message(error.message || String(error), "error"));
    }
  }
}

function askForKey() {
  const dialog = document.getElementById("key-dialog");
  main.replaceChildren(message("This service needs a read key.", "error"));
  dialog.showModal();
}

document.getElementById("key-form").addEventListener("submit", () => {
  rememberKey(document.getElementById("key-input").value);
  route();
});
document.getElementById("key-button").addEventListener("click", () => {
  document.getElementById("key-dialog").showModal();
});
window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });
window.addEventListener("load", route);
