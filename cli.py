"""The `timeline` command: thin click commands over the composition root."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from timeline import embedded_redis, exports
from timeline.bootstrap import Services, build
from timeline.citations import (
    AT_POSITION_ALONE,
    HashingWriter,
    check_chain,
    manifest,
    manifest_path,
    read_manifest,
)
from timeline.config import Settings, describe_store
from timeline.demo import load_demo
from timeline.domain import DomainError, values
from timeline.domain.matching import MIN_SCORE
from timeline.domain.quality import CODES
from timeline.event_log import first_undecodable
from timeline.importing import files, loader, mapped
from timeline.links import link_proposals, propose_between, write_proposals
from timeline.listening import why_not_listen
from timeline.log_format import configure as configure_logs
from timeline.private_files import private_dir
from timeline.projections import failures
from timeline.read_models import TimelineFilter
from timeline.supervision import Child, Supervisor

# soft_wrap: a line is never cut or folded at the terminal's width (80 when piped).
console = Console(stderr=True, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """Conflict timeline service: an event-sourced record of who claimed what, and when.

    Configuration comes from TIMELINE_* environment variables (see the README).
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def migrate() -> None:
    """Create (or upgrade) the event store and read-model tables, once, before starting.

    In production run this before API and worker processes, which then start with
    TIMELINE_CREATE_TABLES=no so that concurrent starters never race to create tables.
    """
    services = _open_store(create_tables=True)
    problems = [each.problem for each in services.runner.status() if each.problem]
    services.close()
    for problem in problems:
        console.print(f"[red]refused[/red]: {problem}")
    if problems:
        raise SystemExit(1)
    console.print("[green]tables ready[/green]")


@main.command()
def demo() -> None:
    """Load the demo incidents (January 2023 news report); loading twice changes nothing."""
    services = _open_store()
    written = load_demo(services.app)
    services.close()
    console.print(f"demo: {written} incident(s) written")


def _open_store(settings: Settings | None = None, create_tables: bool | None = None) -> Services:
    """The wired service, after saying which store it opens: a relative TIMELINE_DATA_DIR (the
    default ./var) depends on where the command runs, and a new directory is a new, empty store."""
    settings = settings or Settings.from_env()
    console.print(f"[dim]{describe_store(settings)}[/dim]", highlight=False)
    return build(settings, create_tables=create_tables)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@main.command()
@click.argument("names", nargs=-1)
def rebuild(names: tuple[str, ...]) -> None:
    """Rebuild projections NAMES (default: every read model) from the start of the log.

    All of them are rebuilt together, in one read of the log, beside the live ones (which keep
    serving), and swapped in whole when caught up. The webhook dispatcher is never
    rebuilt (it would send everything again; asking for it exits 2); use
    POST /api/v1/subscriptions/{id}/replay for a receiver that lost data.
    """
    services = _open_store()
    known = [n for n, p in services.projections.items() if p.rebuildable]
    unknown = [n for n in names if n not in known]
    if unknown:
        services.close()
        raise click.BadParameter(
            f"cannot rebuild {', '.join(map(repr, unknown))}; rebuildable projections: "
            f"{', '.join(known)}",
            param_hint="NAMES",
        )
    chosen = list(names) or known
    head = services.app.head()
    console.print(f"rebuilding {', '.join(chosen)} from the {head} event(s) of the log")
    with _progress() as progress:
        task = progress.add_task(f"{len(chosen)} read model(s)", total=head or 1)
        services.runner.rebuild(chosen, partial(_advance, progress, task))
        progress.update(task, completed=head or 1)
    services.close()


def _advance(progress: Progress, task: TaskID, reached: int) -> None:
    progress.update(task, completed=reached)


@main.command("import")
@click.argument(
    "data_format", metavar="FORMAT", type=click.Choice([*sorted(loader.FORMATS), "csv"])
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="Import into the service at this URL (e.g. http://host:8000) "
              "through its /batch, instead of into the local event store.")  # fmt: skip
@click.option("--key", envvar="TIMELINE_IMPORT_KEY", help="A write key for --url "
              "(or TIMELINE_IMPORT_KEY).")  # fmt: skip
@click.option("--stated-at", help="When the dataset published this release (ISO time with "
              "an offset, e.g. 2023-06-30T00:00:00Z): dates its versions on the stated "
              "clock.")  # fmt: skip
@click.option("--stated-at-column", metavar="COLUMN", help="Date each row's version by this "
              "column instead (a date, a time with an offset, or Unix seconds).")  # fmt: skip
@click.option("--retire-missing", is_flag=True, help="The file is a whole release (dated "
              "--stated-at, else now): record it, and retire as of then the dataset's "
              "incidents it does not list (removed by their source), whatever order releases "
              "are loaded in.")  # fmt: skip
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop",
              show_default=True, help="stop: write nothing when any row is bad; skip: leave "
              "the bad rows out.")  # fmt: skip
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the problems (CSV: row, column, reason). Default: "
              "NAME.problems.csv in the current directory.")  # fmt: skip
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="For FORMAT csv: the TOML file saying which column is what "
              "(README).")  # fmt: skip
@click.option("--catch-up/--no-catch-up", default=True, show_default=True,
              help="Bring the read models up to date at the end (a local import; workers "
              "also do it when they run).")  # fmt: skip
@click.option("--chunk", default=loader.CHUNK, show_default=True,
              type=click.IntRange(1, 10_000), help="Rows a batch (one transaction).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Check every row and write nothing (exit 0 when "
              "every row would go in, 1 otherwise).")  # fmt: skip
@click.option("--encoding", type=click.Choice(files.ENCODINGS), default="utf-8",
              show_default=True, help="The file's text encoding (utf-8 reads a BOM too; a "
              "gzipped file is read as it is).")  # fmt: skip
def import_(
    data_format: str, path: Path, url: str | None, key: str | None, stated_at: str | None,
    stated_at_column: str | None, retire_missing: bool, on_error: str, report: Path | None,
    mapping: Path | None, catch_up: bool, chunk: int, dry_run: bool, encoding: str,
) -> None:  # fmt: skip
    """Import a dataset file: FORMAT is acled (ACLED CSV, current or pre-2023 layout),
    ucdp-ged (UCDP GED as CSV or GeoJSON), ndjson (this service's own export) or csv (any CSV,
    with --mapping).

    Each row is upserted by its dataset id: importing the same file again writes nothing, a
    newer release writes only what changed, and an interrupted import can simply be run
    again. Every row that cannot be stored is reported at once (row, column, reason) in the
    report file; a row where the source broke its own rules goes in as published, flagged.

    Exit status: 0 when every row went in; 1 when nothing was imported (a problem under
    --on-error stop, a file that cannot be read, no good row); 3 when the good rows went in
    and others were refused (--on-error skip).
    """
    try:
        files.readable(path)
    except files.FileRefused as error:
        raise click.BadParameter(str(error), param_hint="PATH") from None
    namespace = loader.NAMESPACES.get(data_format)
    if data_format == "csv":
        if mapping is None:
            raise click.UsageError("FORMAT csv needs --mapping (a TOML file: see the README).")
        try:
            columns = mapped.load_mapping(mapping)
        except mapped.MappingError as error:
            raise click.BadParameter(str(error), param_hint="--mapping") from None
        read: Any = partial(mapped.read, mapping=columns)
        namespace = columns["namespace"]
    else:
        read = loader.FORMATS[data_format]
    if url and not key:
        raise click.UsageError("--url needs --key (or TIMELINE_IMPORT_KEY).")
    if stated_at_column and (stated_at or data_format == "ndjson"):
        raise click.UsageError(
            "--stated-at-column dates each row: not with --stated-at, nor for ndjson (its "
            "lines carry their own stated_at)."
        )
    # --retire-missing: the file is a whole release of its namespace, dated --stated-at (else
    # now), recorded as such: it decides which incidents are live from then on (README).
    release = None
    if retire_missing:
        try:
            release = values.stated_at(stated_at or datetime.now(UTC).isoformat(), "--stated-at")
        except DomainError as error:
            raise click.BadParameter(error.message, param_hint="--stated-at") from None
        stated_at = release
    done: dict[str, Any] = {}
    services = None
    if url:
        sink: loader.Sink = loader.RemoteSink(url, key or "")
    else:
        services = _open_store()
        by = {"key_id": "cli", "name": "timeline import"}
        sink = loader.LocalSink(services.app, services.reads, by)
    summary = loader.Summary()
    rows = read(path, stated_at, stated_at_column, encoding)
    try:
        with _progress() as progress:
            errors: loader.OnError = "skip" if on_error == "skip" else "stop"
            with _reading(progress, path, dry_run):
                loader.load(rows, sink, errors, stated_at, chunk, dry_run, summary)
            if summary.stopped_at is None and not dry_run and summary.written:
                if services is not None and (catch_up or retire_missing):
                    _catch_up(services, progress)  # workers may not be running
                if release is not None and namespace is not None:
                    done = sink.record_release(namespace, release, summary.named)
    except loader.SendFailed as error:
        console.print(f"[red]refused[/red]: {error}")
        console.print(f"the {summary.written} row(s) before it went in; run the import again to "
                      "resume" if summary.written else "nothing was written")  # fmt: skip
        raise SystemExit(1) from None
    except DomainError as error:
        console.print(f"[red]refused[/red]: {error.field}: {error.message}")
        raise SystemExit(1) from None
    except files.FileRefused as error:
        console.print(f"[red]refused[/red]: {error}; "
                      + (f"the {summary.written} row(s) before it went in" if summary.written
                         else "nothing imported"))  # fmt: skip
        raise SystemExit(1) from None
    finally:
        if services is not None:
            services.close()
    refused = summary.refused
    if summary.problems:
        # The current directory: the input's may be read-only (a mounted release).
        report = report or Path(path.name + ".problems.csv")
        loader.write_report(report, sorted(summary.problems, key=lambda p: p.row))
        rows_refused = len({p.row for p in summary.problems})
        console.print(f"[yellow]{len(summary.problems)} problem(s)[/yellow] in "
                      f"{rows_refused} row(s): see {report}")  # fmt: skip
    if dry_run:
        verdict = "every row would go in" if not refused else f"{refused} row(s) would be refused"
        console.print(f"[green]checked[/green] {summary.rows} row(s), nothing written: {verdict}")
        raise SystemExit(1 if refused else 0)
    if summary.stopped_at is not None:
        if summary.stopped_at == 0 or not summary.written:
            console.print("[red]nothing imported[/red] (--on-error skip leaves the bad rows out)")
        else:
            console.print(
                f"[red]stopped[/red] at row {summary.stopped_at}: the {summary.written} row(s) "
                "before its chunk went in, nothing from it on; fix the rows and run the import "
                "again (it writes only what is missing), or --on-error skip leaves them out"
            )
        raise SystemExit(1)
    if not summary.written and summary.rows:
        console.print("[red]nothing imported[/red]: every row was refused")
        raise SystemExit(1)
    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(summary.outcomes.items()))
    rows_in = f"{summary.rows - refused} of {summary.rows}" if refused else str(summary.rows)
    console.print(f"[green]imported[/green] {rows_in} row(s): {outcomes or 'nothing'}")
    if done:
        changes = [f"{done[k]} {k}" for k in ("retired", "restored") if done[k]]
        console.print(f"release of {namespace} at {release}: {done['rows']} id(s) listed, "
                      + ("recorded" if done["new"] else "recorded before")
                      + (f"; {', '.join(changes)}" if changes else ""))  # fmt: skip
    if summary.flagged:
        codes = ", ".join(f"{n} {code}" for code, n in summary.flags.most_common())
        console.print(f"[yellow]{summary.flagged} flagged[/yellow] row(s), stored as published "
                      f"where the source broke its own rules: {codes} (list them with "
                      "GET /api/v1/incidents?flagged=true)")  # fmt: skip
    if refused:  # the good rows went in; the exit status says the file was not whole
        console.print(f"[red]{refused} refused[/red] row(s) left out: see {report}")
        raise SystemExit(3)


@main.command()
@click.option("--format", "data_format", type=click.Choice(sorted(exports.FORMATS)),
              default="ndjson", show_default=True,
              help="ndjson (reads back in with `timeline import ndjson`), csv or "
              "geojson.")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (default, or -: standard output).")  # fmt: skip
@click.option("--url", help="Export from the service at this URL (its GET /incidents) instead "
              "of the local read models.")  # fmt: skip
@click.option("--key", envvar="TIMELINE_EXPORT_KEY", help="A read key for --url, if it needs one.")
@click.option("--namespace", help="Only incidents with an external id in this dataset namespace.")
@click.option("--kind", multiple=True, help="Only these kinds (repeat the option).")
@click.option("--country", help="Only incidents in this country.")
@click.option("--actor", help="Only incidents with this actor (name or side).")
@click.option("--as-of", help="As known at this time (ISO, with an offset).")
@click.option("--clock", type=click.Choice(["recorded", "stated"]), default="recorded",
              show_default=True, help="The clock --as-of is on.")  # fmt: skip
@click.option("--retired", is_flag=True, help="Include retired incidents (marked so).")
@click.option("--flag", type=click.Choice(list(CODES)), help="Only incidents with this quality "
              "flag (their own or a statement's).")  # fmt: skip
@click.option("--flagged", is_flag=True, help="Only incidents with a quality flag.")
@click.option("--at-position", type=click.IntRange(min=0), help="Exactly as the log stood at "
              "this position (a citation's), not as it stands now.")  # fmt: skip
@click.option("--dedupe-linked", is_flag=True, help="Each group of incidents linked as one event "
              "once (the links held now).")  # fmt: skip
def export(
    data_format: str, output: Path | None, url: str | None, key: str | None,
    namespace: str | None, kind: tuple[str, ...], country: str | None, actor: str | None,
    as_of: str | None, clock: str, retired: bool, flag: str | None, flagged: bool,
    at_position: int | None, dedupe_linked: bool,
) -> None:  # fmt: skip
    """Write every incident that matches the filters, with its statements or figures, as a
    file: what GET /api/v1/incidents?format=… streams, from one consistent snapshot.

    With -o FILE, a manifest is written beside it (FILE.manifest.json: the query, the log
    position the file reflects, the ledger's hash there and the file's SHA-256), so the file
    can be cited and checked later with `timeline cite verify`.
    """
    query = {"namespace": namespace, "country": country, "actor": actor, "as_of": as_of,
             "clock": clock, "retired": "true" if retired else None, "flag": flag,
             "flagged": "true" if flagged else None,
             "at_position": str(at_position) if at_position is not None else None,
             "dedupe": "linked" if dedupe_linked else None}  # fmt: skip
    given = {k: v for k, v in query.items() if v is not None}
    if output == Path("-"):  # the convention for standard output
        output = None
    sink = HashingWriter(output.open("wb") if output else sys.stdout.buffer)
    try:
        if url:
            position, ledger_hash = _export_remote(url, key, data_format, given, kind, sink)
        else:
            position, ledger_hash = _export_local(data_format, given, kind, sink)
    except DomainError as error:
        console.print(f"[red]refused[/red]: {error.field}: {error.message}")
        raise SystemExit(1) from None
    finally:
        if output:
            sink.close()
    if output:
        cited = {"format": data_format, "filters": given, "kind": list(kind), "url": url}
        written = manifest_path(output)
        content = manifest(cited, position, ledger_hash, sink.sha256, sink.size, output.name)
        written.write_text(json.dumps(content, indent=2) + "\n")
        console.print(f"cited in {written} (position {position}, sha256 {sink.sha256[:12]}…)")


def _export_local(
    data_format: str, given: dict[str, str], kind: tuple[str, ...], sink: Any
) -> tuple[int, str | None]:
    """Export from the local store; the position the file reflects and the ledger's hash."""
    services = _open_store()
    try:
        as_of = values.timestamp(given["as_of"], "as_of") if "as_of" in given else None
        at_position = int(given["at_position"]) if "at_position" in given else None
        if at_position is not None and (as_of is not None or given["clock"] == "stated"):
            raise DomainError(AT_POSITION_ALONE, "--at-position")
        if at_position is not None and "dedupe" in given:
            raise DomainError("It groups by the links held now: not with --at-position.",
                              "--dedupe-linked")  # fmt: skip
        if at_position is not None and at_position > services.app.head():
            raise DomainError(f"The log's head is {services.app.head()}.", "--at-position")
        where = TimelineFilter(
            kind=kind,
            as_of=as_of,
            clock="stated" if given["clock"] == "stated" else "recorded",
            retired="retired" in given,
            namespace=given.get("namespace"),
            country=given.get("country"),
            actor=given.get("actor"),
            flag=given.get("flag"),
            flagged=True if "flagged" in given else None,
            at_position=at_position,
            dedupe="dedupe" in given,
        )
        _catch_up(services)
        lines = data_format == "ndjson"  # the stored texts, spliced: nothing parsed
        export = (
            services.reads.export_incident_lines if lines else services.reads.export_incidents
        )(where)
        console.print(f"log position {export.position}")
        writers = exports.LINES if lines else exports.WRITERS
        for chunk in exports.write(export, data_format, writers):
            sink.write(chunk if isinstance(chunk, bytes) else chunk.encode())
        return export.position, services.reads.ledger_link(export.position)[0]
    finally:
        services.close()


@contextmanager
def _reading(progress: Progress, path: Path, dry_run: bool) -> Iterator[None]:
    """A bar over the file's bytes as the one pass reads it."""
    size = path.stat().st_size or None
    task = progress.add_task("checking" if dry_run else "importing", total=size)
    with files.watching(lambda read: progress.update(task, completed=read)):
        yield
    progress.update(task, completed=size)


def _catch_up(services: Any, progress: Progress | None = None) -> None:
    """Bring every projection up to the log's head, together in one read of the log, as a
    worker's job does (a running worker may be doing it already: then this returns at once)."""
    on_batch = None
    if progress is not None:
        task = progress.add_task("read models", total=services.app.head() or 1)
        on_batch = partial(_advance, progress, task)
    services.runner.run_all(on_batch)


def _export_remote(
    url: str, key: str | None, data_format: str, given: dict[str, str],
    kind: tuple[str, ...], sink: Any,
) -> tuple[int, str | None]:  # fmt: skip
    """Export through the service's API; the position and hash its answer names."""
    query = urllib.parse.urlencode([*given.items(), ("format", data_format),
                                    *(("kind", k) for k in kind)])  # fmt: skip
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/incidents?{query}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            position = int(answer.headers.get("X-Projection-Position") or 0)
            console.print(f"log position {position}")
            while chunk := answer.read(1 << 16):
                sink.write(chunk)
            return position, answer.headers.get("X-Ledger-Hash")
    except urllib.error.HTTPError as error:
        console.print(f"[red]refused[/red]: {error.code} {error.read().decode(errors='replace')}")
        raise SystemExit(1) from None


@main.command()
@click.option(
    "--namespaces", required=True, metavar="A,B",
    help="The two datasets to compare, e.g. acled,ucdp-ged (own: analysts' incidents).",
)  # fmt: skip
@click.option(
    "--min-score", type=click.FloatRange(0, 1), default=MIN_SCORE, show_default=True,
    help="Leave out proposals scoring less.",
)  # fmt: skip
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="Write the proposals here (CSV: first, second, their dataset ids, score, reasons).",
)  # fmt: skip
@click.option(
    "--link-above", type=click.FloatRange(0, 1), metavar="SCORE",
    help="Also link every proposal scoring at least SCORE (each a decision, with its score "
    "and reasons), except pairs already decided.",
)  # fmt: skip
def reconcile(
    namespaces: str, min_score: float, output: Path | None, link_above: float | None
) -> None:
    """Propose links between the incidents of two datasets that may be the same event.

    Compares only incidents near each other in space and time (blocking), scores each pair
    (dates, places, kinds, actors) and prints how many were proposed. The `links` read model
    proposes the same pairs as rows arrive (GET /api/v1/links/proposals); this is the whole
    comparison at once, e.g. after importing a new dataset.
    """
    names = [n.strip() for n in namespaces.split(",") if n.strip()]
    if len(names) != 2 or names[0] == names[1]:
        raise click.BadParameter("name two different datasets, e.g. acled,ucdp-ged",
                                 param_hint="--namespaces")  # fmt: skip
    services = _open_store()
    _catch_up(services)
    services.runner.wait_for("links", services.app.head(), 600.0)
    (left, _), (right, _) = (services.reads.footprints(n) for n in names)
    console.print(f"{names[0]}: {len(left)} incident(s); {names[1]}: {len(right)}")
    with _progress() as progress:
        task = progress.add_task("comparing", total=len(left) or 1)
        found = propose_between(left, right, min_score, partial(_advance, progress, task))
    console.print(f"{len(found)} proposal(s) scoring at least {min_score}")
    if output is not None:
        labels = {fp.incident_id: " ".join(fp.labels) for fp in (*left, *right)}
        write_proposals(output, found, labels)
        console.print(f"proposals written to {output}")
    if link_above is not None:
        reason = f"timeline reconcile --link-above {link_above}: scored at least that"
        linked = link_proposals(services.app, found, link_above, reason)
        _catch_up(services)  # workers may not be running
        console.print(f"{linked} pair(s) linked")
    services.close()


@main.group()
def cite() -> None:
    """Citations of exported files (the manifests `timeline export -o FILE` writes)."""


@cite.command("verify")
@click.argument("manifest_file", metavar="MANIFEST",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))  # fmt: skip
@click.option("--file", "exported", type=click.Path(dir_okay=False, path_type=Path),
              help="The exported file (default: the one the manifest names).")  # fmt: skip
@click.option("--key", envvar="TIMELINE_EXPORT_KEY", help="A read key, for a manifest of an "
              "export made with --url.")  # fmt: skip
def cite_verify(manifest_file: Path, exported: Path | None, key: str | None) -> None:
    """Prove a cited export: the log up to its position is untouched (the hash chain,
    recomputed from the stored events, matches the ledger and the cited hash), the same
    export run again at that position gives the same bytes, and the file (if still there) is
    the one cited. Exit status 0 when all hold, 1 naming what does not, 2 for a bad manifest.
    """
    try:
        cited = read_manifest(manifest_file)
    except ValueError as error:
        console.print(f"[red]not a manifest[/red]: {error}")
        raise SystemExit(2) from None
    position, query = int(cited["position"]), cited["query"]
    failures: list[str] = []
    path = exported or manifest_file.with_name(str(cited.get("file") or ""))
    if path.is_file():
        with path.open("rb") as f:
            on_disk = HashingWriter()
            while chunk := f.read(1 << 16):
                on_disk.write(chunk)
        _checked(on_disk.sha256 == cited["sha256"], f"the file {path} is the one cited",
                 f"the file {path} differs from the one cited", failures)  # fmt: skip
    else:
        console.print(f"(the file {path} is not here: checking the service's answer only)")
    given = dict(query.get("filters") or {})
    if given.get("clock") == "stated" and "as_of" in given:
        console.print("(an export on the stated clock is not re-run: what was said by a time "
                      "may still be learned; the chain is checked)")  # fmt: skip
        again = None
    else:
        if "as_of" not in given:
            given["at_position"] = str(position)
        again = HashingWriter()
    kind = tuple(query.get("kind") or ())
    if query.get("url"):
        if again is not None:
            _export_remote(query["url"], key, query["format"], given, kind, again)
        _checked(_remote_hash(query["url"], key, position) == cited.get("ledger_hash"),
                 f"the service's ledger still holds the cited hash at {position}",
                 f"the service's ledger no longer holds the cited hash at {position}",
                 failures)  # fmt: skip
    else:
        if again is not None:
            _export_local(query["format"], given, kind, again)
        _check_local_chain(position, cited.get("ledger_hash"), failures)
    if again is not None:
        other = f"(sha256 {again.sha256[:12]}…, not {cited['sha256'][:12]}…)"
        _checked(again.sha256 == cited["sha256"],
                 f"the export run again at position {position} gives the cited bytes",
                 f"the export run again at position {position} gives other bytes {other}",
                 failures)  # fmt: skip
    if failures:
        raise SystemExit(1)


def _checked(holds: bool, good: str, bad: str, failures: list[str]) -> None:
    console.print(f"[green]✓[/green] {good}" if holds else f"[red]✗[/red] {bad}")
    if not holds:
        failures.append(bad)


def _check_local_chain(position: int, cited_hash: str | None, failures: list[str]) -> None:
    from timeline.projections.ledger import stored_links

    services = _open_store()
    try:
        with _progress() as progress:
            task = progress.add_task("chain", total=position or 1)
            found = check_chain(services.app, stored_links(services.views), position,
                                partial(_advance, progress, task))  # fmt: skip
        if found.tampered_at is not None:
            _checked(False, "", f"the log was changed at position {found.tampered_at}: "
                     f"{found.reason}", failures)  # fmt: skip
            return
        _checked(found.recomputed_hash == cited_hash,
                 f"the log up to position {position} is untouched (its chain gives the cited "
                 "hash)",
                 f"the chain recomputed up to position {position} does not give the cited "
                 "hash (events up to it were changed and the ledger rebuilt since)",
                 failures)  # fmt: skip
    finally:
        services.close()


def _remote_hash(url: str, key: str | None, position: int) -> str | None:
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/ledger/{position}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            found: str | None = json.loads(answer.read())["hash"]
            return found
    except urllib.error.HTTPError:
        return None


@main.command()
def verify() -> None:
    """Recompute the ledger's hash chain from the stored events, and decode every event; exit
    1 at the first bad one.

    Detects an event whose stored content was edited, deleted or inserted after it was chained,
    and one that no longer decodes (chained or not).
    """
    from timeline.ledger import verify as verify_chain
    from timeline.projections.ledger import stored_links

    services = _open_store()
    head = services.app.head()
    with _progress() as progress:
        task = progress.add_task("verify", total=head or 1)
        verdict = verify_chain(
            services.app, stored_links(services.views), partial(_advance, progress, task)
        )
        progress.update(task, completed=head or 1)
        decoding = progress.add_task("decode", total=head or 1)
        undecodable = first_undecodable(services.app, partial(_advance, progress, decoding))
    services.close()
    if undecodable is not None:
        console.print(f"[red]cannot decode the event at position {undecodable.position}[/red]: "
                      f"{undecodable.reason}")  # fmt: skip
        raise SystemExit(1)
    if not verdict.ok:
        console.print(
            f"[red]ledger mismatch at position {verdict.first_bad_position}[/red]: "
            f"{verdict.reason} ({verdict.checked} events verified before it)"
        )
        raise SystemExit(1)
    console.print(
        f"[green]ledger ok[/green]: {verdict.checked} events verified"
        + (f", {verdict.unchained} newer events not yet chained" if verdict.unchained else "")
    )


@main.command()
def status() -> None:
    """Show each projection's position, the log head and the lag, and any that waits for an
    operator or stopped at an event it could not apply (then exit 1)."""
    services = _open_store()
    statuses = services.runner.status()
    services.close()
    for each in statuses:
        console.print(
            f"{each.name:12} position {each.position:>10}  head {each.head:>10}  lag {each.lag}"
        )
        if each.problem:
            console.print(f"  [red]{each.problem}[/red]")
        if each.stopped:
            console.print(f"  [red]{each.stopped.describe()}[/red]")
    if any(each.problem or each.stopped for each in statuses):
        raise SystemExit(1)


@main.command()
@click.option("--port", default=9000, show_default=True, type=int, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--secret",
    required=True,
    envvar="TIMELINE_LISTEN_SECRET",
    help="The subscription's whsec_ signing secret (shown when it was created).",
)
def listen(port: int, host: str, secret: str) -> None:
    """Receive webhook deliveries here: verify each one's signature and print it.

    Subscribe http://HOST:PORT/ (any path) to some event types, then run this with the
    subscription's secret. A delivery that does not verify is answered 401 and shown.
    """
    from timeline.webhooks.listener import make_server

    try:
        # Deliveries are this command's output (stdout, e.g. to a file); the rest is stderr.
        server = make_server(host, port, secret, Console(soft_wrap=True).print)
    except Exception as error:  # a malformed secret, a port in use
        raise click.BadParameter(str(error)) from None
    console.print(f"listening on http://{host}:{port}/ for deliveries (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@main.command()
def resume() -> None:
    """Try the projections stopped by an event they could not apply again now (after fixing
    the code or the event), instead of at their next scheduled try."""
    services = _open_store()
    try:
        names = failures.retry_now(services.views)
        if names:
            services.runner.trigger()
    finally:
        services.close()
    console.print(f"resumed: {', '.join(names)}" if names else "no projection is stopped")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed; a key is shown only when created)."""


@keys.command("create")
@click.option(
    "--scope", type=click.Choice(["read", "write", "admin"]), required=True, help="What it may do."
)
@click.option("--name", required=True, help="Who or what uses it, e.g. 'newsroom importer'.")
def keys_create(scope: str, name: str) -> None:
    """Make a key and print it once: store it now, it cannot be shown again."""
    services = _open_store()
    key, record = services.keys.create(name, scope)
    services.close()
    console.print(f"created key {record['id']} ({record['scope']}) for {record['name']}")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """Every key with its scope, creation and revocation time (never the key itself)."""
    services = _open_store()
    rows = [
        (r["id"], r["name"], r["scope"], r["created_at"], r["revoked_at"] or "")
        for r in services.keys.all()
    ]
    services.close()
    header = ("id", "name", "scope", "created", "revoked")
    if not sys.stdout.isatty():  # piped: whole values, tab-separated, for the next program
        for row in (header, *rows):
            click.echo("\t".join(row))
        return
    # The id is never cut (it is what `keys revoke` takes); the others fold, never cut either.
    table = Table(
        Column("id", no_wrap=True, min_width=36),
        *(Column(name, overflow="fold") for name in header[1:]),
    )
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke key KEY_ID (from `timeline keys list`); requests with it get 401 from now on."""
    services = _open_store()
    try:
        record = services.keys.revoke(key_id)
    except DomainError as error:
        raise click.BadParameter(error.message, param_hint="KEY_ID") from None
    finally:
        services.close()
    console.print(f"revoked key {record['id']} ({record['name']}) at {record['revoked_at']}")


@main.command()
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for projection and webhook jobs, with the scheduler and the sweep."""
    from workers.worker import run_worker

    settings = Settings.from_env()
    configure_logs(settings.log_level, settings.log_format)
    run_worker(build(settings), burst=burst)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo data first.")
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn workers.")
@click.option(
    "--workers", "job_workers", default=2, show_default=True, type=int, help="RQ worker processes."
)
def serve(host: str, port: int, with_demo: bool, web_workers: int, job_workers: int) -> None:
    """Serve the API (gunicorn) with RQ workers; start an embedded Redis if none is configured.

    A child that exits (the embedded Redis included) is started again, after a pause that
    grows while it keeps failing; one that cannot be kept up stops the service (exit 1, saying
    why). Stopping (Ctrl-C, SIGTERM) stops every child and whatever it started; if this
    process is killed outright, its children go with it (Linux).
    """
    problem = why_not_listen(host, port)
    if problem:
        console.print(f"[red]cannot serve[/red]: {problem}; choose another with --port "
                      "(or PORT=… with make run)")  # fmt: skip
        raise SystemExit(1)
    settings = Settings.from_env()
    private_dir(settings.data_dir)
    env = dict(os.environ)
    status = settings.data_dir / "supervisor.json"
    env["TIMELINE_SUPERVISOR_STATUS"] = str(status)
    embedded = None
    if not settings.redis_url:
        env["TIMELINE_REDIS_URL"] = embedded_redis.url(settings.data_dir)
        settings = settings.with_changes(redis_url=env["TIMELINE_REDIS_URL"])
        redis_server = embedded_redis.command(settings.data_dir)
        embedded = Child("embedded Redis", redis_server, "redis", serves_others=True)
    env["TIMELINE_CREATE_TABLES"] = "no"
    # /metrics sums every gunicorn worker's counts from files in this directory.
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir / "metrics"))
    gunicorn = [
        *(sys.executable, "-m", "gunicorn", "--config", "python:gunicorn_conf"),
        *("--bind", f"{host}:{port}", "--workers", str(web_workers), "api.asgi:app"),
    ]
    jobs = [sys.executable, "-m", "cli", "worker"]
    children = [embedded] if embedded else []
    children += [Child("web server (gunicorn)", gunicorn, "gunicorn")]
    children += [Child(f"RQ worker {n + 1}", jobs, "rq-worker") for n in range(job_workers)]
    supervisor = Supervisor(children, env, console.print, status_path=status)
    try:
        if embedded is not None:  # up before the store is opened: the demo's writes queue jobs
            supervisor.start(embedded, time.monotonic())
            embedded_redis.wait_until_up(settings.data_dir)
        services = _open_store(settings, create_tables=True)
        if with_demo:
            written = load_demo(services.app)
            console.print(f"demo: {written} incident(s) written")
        services.close()
    except BaseException:
        supervisor.stop_all()
        raise
    base = f"http://{_url_host(host)}:{port}"
    console.print(f"serving the dashboard at {base}/ and the API at {base}/api/v1 "
                  f"(docs at {base}/api/v1/docs)")  # fmt: skip
    raise SystemExit(supervisor.run())


def _url_host(host: str) -> str:
    """The host as a URL names it: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    main()
