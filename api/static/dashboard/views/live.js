// Live: new events as they are written, from the API's Server-Sent Events feed, with the
// connection's state in view. Read with fetch (not EventSource) so a read key can be sent;
// a dropped connection resumes from the last event seen (Last-Event-ID): nothing is missed.
import { get, headers, url } from "../api.js";
import { badge, el, message, when } from "../ui.js";

export async function render(main, params, _id, signal) {
  const state = el("span", { class: "connection", id: "connection", role: "status" }, "connecting…");
  const list = el("ol", { class: "thread", id: "live-events", reversed: true });
  main.replaceChildren(el("h2", {}, "Live"),
    el("p", {}, "Connection: ", state, el("span", { class: "muted" }, " — new statements and changes appear here as they are written.")),
    list);
  const { head } = await get("/ready");
  follow(head ?? 0, state, list, signal);
}

async function follow(after, state, list, signal) {
  let last = after;
  while (!signal.aborted) {
    try {
      const answer = await fetch(url("/events/stream", { after: last }), {
        headers: { Accept: "text/event-stream", ...headers(), "Last-Event-ID": String(last) }, signal,
      });
      if (!answer.ok) throw new Error(`the feed answered ${answer.status}`);
      state.textContent = "live";
      state.className = "connection open";
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame.data) {
            last = Number(frame.id);
            list.prepend(entry(JSON.parse(frame.data)));
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      state.textContent = `disconnected (${error.message}); reconnecting…`;
      state.className = "connection closed";
    }
    if (!signal.aborted) {
      state.textContent = "reconnecting…";
      state.className = "connection closed";
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function parse(text) {
  const frame = {};
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) continue;
    const at = line.indexOf(":");
    if (at > 0) frame[line.slice(0, at)] = (frame[line.slice(0, at)] ?? "") + line.slice(at + 1).trimStart();
  }
  return frame;
}

function entry(event) {
  const said = event.data.statement;
  return el("li", {}, el("article", { class: "statement new", "data-position": event.position },
    el("div", {}, said ? badge(said.stance) : el("strong", {}, event.type), " ",
      el("a", { href: `#/incident/${event.incident_id}` }, said ? said.source.name : `incident ${event.incident_id.slice(0, 8)}`),
      el("span", { class: "muted" }, ` · position ${event.position} · recorded ${when(event.recorded_at)}`)),
    said ? el("p", {}, said.text) : el("p", { class: "muted" }, event.data.title || event.type)));
}
