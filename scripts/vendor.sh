#!/usr/bin/env bash
# Refresh the dashboard's third-party files from npm, at the exact versions below, with their
# licences: `make vendor`. The files are committed; nothing is fetched when the service runs.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
DEST=api/static/dashboard/vendor
PACKAGES=(leaflet@1.9.4 topojson-client@3.1.0 world-atlas@2.0.2 d3@7.9.0 @observablehq/plot@0.6.17)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "${PACKAGES[@]}" >/dev/null)
rm -rf "$DEST" && mkdir -p "$DEST"
for spec in "${PACKAGES[@]}"; do
  name=${spec%@*} version=${spec##*@}
  flat=${name#@} flat=${flat//\//-}  # @scope/name → scope-name (npm pack's file name)
  mkdir -p "$work/$flat" && tar xzf "$work/$flat-$version.tgz" -C "$work/$flat"
  src="$work/$flat/package" out="$DEST/$flat@$version"
  mkdir -p "$out"
  licences=("$src"/LICENSE*)
  [ ${#licences[@]} -gt 0 ] || { echo "no licence in $spec" >&2; exit 1; }
  cp "${licences[@]}" "$out"/
  case "$name" in
    leaflet) cp -r "$src/dist/leaflet.js" "$src/dist/leaflet.css" "$src/dist/images" "$out"/ ;;
    topojson-client) cp "$src/dist/topojson-client.min.js" "$out"/ ;;
    world-atlas) cp "$src/countries-110m.json" "$out"/ ;;
    d3) cp "$src/dist/d3.min.js" "$out"/ ;;
    @observablehq/plot) cp "$src/dist/plot.umd.min.js" "$out"/ ;;
  esac
done
printf '%s\n' "${PACKAGES[@]}" > "$DEST/VERSIONS"
echo "vendored: ${PACKAGES[*]}"
