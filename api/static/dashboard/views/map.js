// Map: the filtered incidents on an offline base map, at any scale. The server counts them per
// cell of the zoom level's grid (GET /map/cells), so 100,000 incidents draw as a few hundred
// circles sized by their count; a circle opens to its incidents when it holds few (or zooms in
// when it holds many), and each pan or zoom asks again for what is in view.
import { get } from "../api.js";
import { baseMap } from "../basemap.js";
import { form, query } from "../filters.js";
import { el, incidentLink, message, place, when } from "../ui.js";

const LISTED = 50; // a circle holding at most this many opens to its incidents

export async function render(main, params, _id, signal) {
  const holder = el("div", { id: "map", role: "region", "aria-label": "Map of incidents" });
  const summary = el("p", { class: "muted", id: "map-summary", role: "status" }, "Loading incidents…");
  main.replaceChildren(el("h2", {}, "Map"), form("map", params, false), summary, holder);
  const L = window.L;
  // The view (centre and zoom) is kept in the address too: a shared link opens on it
  const [lat, lon, zoom] = ["lat", "lon", "zoom"].map((name) => Number.parseFloat(params.get(name)));
  const map = await baseMap(holder, Number.isFinite(lat + lon + zoom) ? [[lat, lon], zoom] : undefined);
  const layer = L.layerGroup().addTo(map);
  const circles = L.svg(); // (a few hundred circles at most: drawn as SVG, each reachable)
  const wanted = query(params, false);
  let asked = 0;
  async function draw() {
    const ask = ++asked;
    const view = map.getBounds();
    const bbox = [Math.max(view.getWest(), -180), Math.max(view.getSouth(), -90),
      Math.min(view.getEast(), 180), Math.min(view.getNorth(), 90)].map((v) => v.toFixed(4)).join(",");
    const answer = await get("/map/cells", { ...wanted, bbox, zoom: Math.round(map.getZoom()) });
    if (ask !== asked || signal?.aborted) return; // (a later move asked again)
    layer.clearLayers();
    const total = answer.items.reduce((sum, cell) => sum + cell.count, 0);
    const biggest = Math.max(1, ...answer.items.map((cell) => cell.count));
    for (const cell of answer.items) {
      const radius = 6 + 18 * Math.sqrt(cell.count / biggest);
      const circle = L.circleMarker([cell.lat, cell.lon], { renderer: circles, radius, color: "#8c1d18", weight: 1, fillOpacity: 0.65 });
      circle.bindTooltip(`${cell.count} incident(s)`);
      circle.on("click", () => open(cell, answer.degrees, circle));
      layer.addLayer(circle);
      const shape = circle.getElement(); // (SVG: reachable from the keyboard too)
      shape?.setAttribute("tabindex", "0");
      shape?.setAttribute("role", "button");
      shape?.setAttribute("aria-label", `${cell.count} incident(s) here`);
      shape?.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(cell, answer.degrees, circle); }
      });
      if (cell.count > 1) {
        layer.addLayer(L.marker([cell.lat, cell.lon], { interactive: false, keyboard: false,
          icon: L.divIcon({ className: "cell-count", html: String(cell.count), iconSize: [30, 16] }) }));
      }
    }
    summary.textContent = `${total} incident(s) in view, in ${answer.items.length} place(s), as of log position ${answer.position}.`;
    holder.dataset.cells = String(answer.items.length);
    holder.dataset.incidents = String(total);
    holder.dataset.ready = "true";
    if (!total) summary.append(" Nothing to show here for these filters.");
  }
  async function open(cell, degrees, circle) {
    if (cell.count > LISTED) {
      map.setView([cell.lat, cell.lon], map.getZoom() + 2);
      return;
    }
    // The cell's incidents: those in view within the cell around its mean point
    const half = degrees;
    const bbox = [cell.lon - half, cell.lat - half, cell.lon + half, cell.lat + half]
      .map((v, n) => Math.max(Math.min(v, n % 2 ? 90 : 180), n % 2 ? -90 : -180).toFixed(4)).join(",");
    const answer = await get("/incidents", { ...wanted, bbox, limit: LISTED });
    circle.bindPopup(el("div", { class: "cell-popup" }, el("ul", {}, answer.items.map((incident) => el("li", {},
      incidentLink(incident), el("div", { class: "muted" }, `${incident.kind.replaceAll("_", " ")} · ${when(incident.occurred.start)} · ${place(incident.location)}`))))),
    { maxHeight: 260 }).openPopup();
  }
  map.on("moveend", () => {
    const kept = new URLSearchParams(params);
    const centre = map.getCenter();
    kept.set("lat", centre.lat.toFixed(4));
    kept.set("lon", centre.lng.toFixed(4));
    kept.set("zoom", String(map.getZoom()));
    window.history.replaceState(null, "", `#/map?${kept}`);
    draw().catch((error) => summary.replaceChildren(message(error.message, "error")));
  });
  await draw();
}
