// The public API, as the dashboard reads it: JSON over fetch, with the tab's read key if any.

const KEY = "timeline.readKey";
export const BASE = "/api/v1";

/** The service asked for a read key (401): the page asks the user for one. */
export class NeedsKey extends Error {}

export function headers() {
  const key = sessionStorage.getItem(KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY, key.trim());
}

export function url(path, params = {}) {
  const address = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") address.searchParams.set(name, value);
  }
  return address;
}

/** GET a JSON answer; NeedsKey on 401, an Error with the API's message on any other failure. */
export async function get(path, params = {}) {
  const answer = await fetch(url(path, params), { headers: { Accept: "application/json", ...headers() } });
  if (answer.status === 401) {
    sessionStorage.removeItem(KEY);
    throw new NeedsKey("A read key is needed.");
  }
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.message || answer.statusText);
  return body;
}

/** POST a JSON body (a write key decides); an Error with the API's message on failure. */
export async function post(path, body) {
  const answer = await fetch(url(path), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers() },
    body: JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (answer.status === 401 || answer.status === 403) {
    throw new Error("Deciding needs a write key: use one as this tab's key (Key, at the top).");
  }
  if (!answer.ok) throw new Error(data.message || answer.statusText);
  return data;
}

/** Download a streamed export (a link cannot carry the key header, so it is fetched). */
export async function download(path, params, filename) {
  const answer = await fetch(url(path, params), { headers: headers() });
  if (!answer.ok) throw new Error(`export failed: ${answer.status}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await answer.blob());
  link.download = filename;
  link.click();
  URL.revokeObjectURL(link.href);
}
