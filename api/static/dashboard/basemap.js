// The offline base map shared by the map views: Natural Earth's country shapes (via the
// world-atlas package) under a Leaflet map; no tiles are fetched.
let countries = null;

/** A Leaflet map in ``holder`` with the country shapes drawn, once they are loaded; centred
 * on ``view`` ([lat, lon], zoom) when given, else on the region. */
export async function baseMap(holder, view = [[48.5, 35], 5]) {
  const L = window.L;
  const map = L.map(holder, { worldCopyJump: true, preferCanvas: true, minZoom: 2, maxZoom: 12 })
    .setView(...view);
  countries ??= await fetch("/dashboard/vendor/world-atlas@2.0.2/countries-110m.json").then((r) => r.json());
  L.geoJSON(window.topojson.feature(countries, countries.objects.countries), {
    style: { color: "#7d8b99", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 }, interactive: false,
  }).addTo(map);
  return map;
}
