"""Write timeline/domain/country_boxes.json: each country's bounding box, by ISO 3166 alpha-2
code, from the Natural Earth shapes the dashboard already vendors (world-atlas 2.0.2,
countries-110m.json; Natural Earth is in the public domain, world-atlas is ISC-licensed).

The domain flags coordinates that lie clearly outside the country a row names
(``outside_country``); a box per country is all that takes, and keeps the domain free of any
geometry library. Run it again if the vendored file changes: ``python scripts/country_boxes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "api/static/dashboard/vendor/world-atlas@2.0.2/countries-110m.json"
OUT = ROOT / "timeline/domain/country_boxes.json"


def arcs_of(topology: dict) -> list[list[tuple[float, float]]]:
    """Every arc as (lon, lat) points (TopoJSON's quantized, delta-encoded positions)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def indices(arcs: list) -> list[int]:
    """The arc indices of a (Multi)Polygon's rings, flattened (~i: arc i reversed)."""
    found: list[int] = []
    for item in arcs:
        found += indices(item) if isinstance(item, list) else [item if item >= 0 else ~item]
    return found


def main() -> None:
    topology = json.loads(SHAPES.read_text())
    arcs = arcs_of(topology)
    boxes = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        country = pycountry.countries.get(numeric=str(geometry.get("id", "")).zfill(3))
        if country is None or not geometry.get("arcs"):
            continue  # (Kosovo, Northern Cyprus, Somaliland: no ISO numeric code here)
        points = [p for i in indices(geometry["arcs"]) for p in arcs[i]]
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        boxes[country.alpha_2] = [round(min(lons), 2), round(min(lats), 2),
                                  round(max(lons), 2), round(max(lats), 2)]  # fmt: skip
    lines = [f'"{code}": {json.dumps(box)}' for code, box in sorted(boxes.items())]
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{len(boxes)} countries → {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
