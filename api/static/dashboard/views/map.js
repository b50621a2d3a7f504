// Map: the filtered incidents as points, clustered, on an offline base map (country shapes
// from Natural Earth, via the world-atlas package). No tiles are fetched.
import { get } from "../api.js";
import { baseMap } from "../basemap.js";
import { form, query } from "../filters.js";
import { el, incidentLink, message, place, when } from "../ui.js";

const PAGE = 1000;
const MOST = 20000; // incidents put on the map at the most (a page of 1,000 at a time)

export async function render(main, params) {
  const holder = el("div", { id: "map", role: "region", "aria-label": "Map of incidents" });
  const summary = el("p", { class: "muted", id: "map-summary" }, "Loading incidents…");
  main.replaceChildren(el("h2", {}, "Map"), form("map", params, false), summary, holder);
  const L = window.L;
  const map = await baseMap(holder);
  const cluster = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
  map.addLayer(cluster);
  const wanted = query(params, false);
  let cursor = null, placed = 0, without = 0;
  do {
    const answer = await get("/incidents", { ...wanted, limit: PAGE, cursor });
    const markers = [];
    for (const incident of answer.items) {
      const where = incident.location;
      if (where?.lat === null || where?.lat === undefined) { without += 1; continue; }
      const marker = L.circleMarker([where.lat, where.lon], { radius: 6, color: "#8c1d18", weight: 1, fillOpacity: 0.8 });
      marker.bindPopup(() => el("div", {}, incidentLink(incident), el("div", {}, `${incident.kind.replaceAll("_", " ")} · ${when(incident.occurred.start)}`), el("div", {}, place(where))));
      markers.push(marker);
    }
    cluster.addLayers(markers);
    placed += markers.length;
    cursor = answer.next_cursor;
  } while (cursor && placed + without < MOST);
  summary.textContent = `${placed} incident(s) on the map${without ? `, ${without} without coordinates` : ""}${cursor ? ` (the first ${MOST}; narrow the filters for the rest)` : ""}.`;
  holder.dataset.ready = "true";
  if (!placed) main.append(message("Nothing to show for these filters."));
}
