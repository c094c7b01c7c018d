"""Weekly digests at company scale, on PostgreSQL.

    python bench/digest_scale.py [--events 5000000] [--managers 1000] [--team 10]
                                 [--database-url URL] [--doc PATH]

Builds a database of its own on the PostgreSQL server --database-url names
(default NUDGEBOT_BENCH_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres;
it refuses anything but PostgreSQL): `--managers` managers
with `--team` reports each, one program, and `--events` sent nudges with one
proof event each, spread over two years. Then computes every manager's weekly
digest with the real code (`bot.digest.team.manager_digest`), checks with
EXPLAIN how each team's queries read every table, prints the figures and writes
them to docs/benchmarks.md, the paragraph on the plans included: it is written
from the plans of this run, not from an earlier one. The database is dropped at
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import DOC, markdown_table, publish, require_postgres
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import migrate
from bot.content.loader import content_hash
from bot.content.schema import Program
from bot.db import make_engine, make_session_factory, normalize_url
from bot.digest import team
from bot.settings import Settings

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SPAN_DAYS = 730
STEPS = 5
# A table this big read whole would be a problem; smaller ones PostgreSQL may scan.
BIG_TABLE_ROWS = 100_000


def program_json() -> dict[str, Any]:
    five = {k: f"The {k}." for k in ("problem", "behavior", "place", "prompt", "proof")}
    program = Program.model_validate(
        {
            "id": "bench-program",
            "title": "Benchmark program",
            "owner": "ld@example.com",
            "summary": "Benchmark.",
            "locales": ["en"],
            **five,
            "metric": {
                "name": "KPI",
                "unit": "%",
                "direction": "down",
                "baseline": 18,
                "target": 12,
                "by": "90d",
            },
            "steps": [
                {"id": f"s{i}", "kind": "prompt", "text": f"Step {i}.", "when": {"day": i}}
                for i in range(STEPS)
            ],
        }
    )
    return {"hash": content_hash(program), "content": program.model_dump(mode="json")}


def fill(url: str, *, managers: int, team_size: int, events: int) -> dict[str, float]:
    """Bulk-load with set-based SQL (generate_series): minutes, not hours."""
    engine = create_engine(normalize_url(url))
    people = managers * team_size
    per_person = max(1, events // people)
    program = program_json()
    timings: dict[str, float] = {}
    statements = [
        (
            "programs",
            "INSERT INTO programs (id, title, owner, active, created_at, updated_at) "
            "VALUES ('bench-program', 'Benchmark', 'ld@example.com', true, now(), now())",
        ),
        (
            "program_versions",
            "INSERT INTO program_versions (program_id, number, content_hash, "
            "content, loaded_at) VALUES ('bench-program', 1, :hash, CAST(:content AS json), now())",
        ),
        (
            "people",
            f"""INSERT INTO people (workspace_id, slack_user_id, name, tz, role,
            manager_slack_user_id, is_deleted, is_bot, created_at, updated_at)
            SELECT 'T0BENCH', 'UM' || lpad(m::text, 7, '0'), 'manager ' || m, 'Europe/Sofia',
                   'manager', NULL, false, false, now(), now()
            FROM generate_series(1, {managers}) m
            UNION ALL
            SELECT 'T0BENCH', 'UE' || lpad(e::text, 7, '0'), 'employee ' || e, 'UTC',
                   'employee', 'UM' || lpad((1 + (e - 1) / {team_size})::text, 7, '0'),
                   false, false, now(), now()
            FROM generate_series(1, {people}) e""",
        ),
        (
            "enrollments",
            """INSERT INTO enrollments (person_id, program_id, program_version_id,
            status, starts_at, arm, source, created_at, updated_at)
            SELECT p.id, 'bench-program', v.id, 'active', now() - interval '2 years', '', 'cli',
                   now(), now()
            FROM people p CROSS JOIN program_versions v WHERE p.slack_user_id LIKE 'UE%'""",
        ),
        (
            "deliveries",
            f"""INSERT INTO deliveries (enrollment_id, person_id, step_id, repetition,
            status, due_at, sent_at, attempts, created_at, updated_at)
            SELECT e.id, e.person_id, 's' || (n % {STEPS}), n, 'sent', t, t, 1, t, t
            FROM enrollments e
            CROSS JOIN generate_series(1, {per_person}) n
            CROSS JOIN LATERAL (SELECT TIMESTAMP '{NOW:%Y-%m-%d %H:%M:%S}'
                - make_interval(secs => ((n * 7919 + e.id * 104729) % ({SPAN_DAYS} * 86400)))
                AS t) ts""",
        ),
        (
            "proof_events",
            """INSERT INTO proof_events (dedupe_key, person_id, program_id,
            program_version, step_id, delivery_id, kind, value, occurred_at)
            SELECT 'b' || d.id, d.person_id, 'bench-program', 1, d.step_id, d.id,
                   CASE WHEN d.id % 10 < 7 THEN 'done' WHEN d.id % 10 < 9 THEN 'snooze'
                        ELSE 'not_relevant' END,
                   CASE WHEN d.id % 10 = 9 THEN 'not my role' END,
                   d.sent_at + interval '1 hour'
            FROM deliveries d""",
        ),
        ("analyze", "ANALYZE"),
    ]
    with engine.begin() as conn:
        for name, sql in statements:
            started = time.perf_counter()
            params = (
                {"hash": program["hash"], "content": json.dumps(program["content"])}
                if name == "program_versions"
                else {}
            )
            conn.execute(text(sql), params)
            if name == "analyze":
                conn.commit()
            timings[name] = time.perf_counter() - started
            print(f"  loaded {name} in {timings[name]:.1f} s", flush=True)
    engine.dispose()
    return timings


@dataclass
class Reads:
    """How the plans read each table: by which indexes, and which tables whole."""

    indexes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    scanned: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # why

    def note(self, nodes: list[tuple[dict[str, Any], str]], index_table: dict[str, str]) -> None:
        for node, parent in nodes:
            if "Index Name" in node:
                index = str(node["Index Name"])
                self.indexes[index_table.get(index, "?")].add(index)
            if node["Node Type"] == "Seq Scan":
                why = "hashed for a join" if parent == "Hash" else "read whole"
                self.scanned[str(node["Relation Name"])].add(why)


def explain_team_queries(
    url: str, manager: str, settings: Settings
) -> tuple[list[tuple[str, str]], Reads]:
    """The plan of each query a team's digest runs, and how it reads each table."""
    engine = make_engine(url)
    captured: list[tuple[str, Any]] = []
    from sqlalchemy import event

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    with make_session_factory(engine)() as session:
        team.manager_digest(session, manager_user_id=manager, now=NOW, settings=settings)
    event.remove(engine, "before_cursor_execute", capture)
    plans: list[tuple[str, str]] = []
    reads = Reads()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public'")
        index_table = {str(i): str(t) for i, t in cursor.fetchall()}
        for sql, params in captured:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            nodes = _nodes(cursor.fetchone()[0][0]["Plan"], "")
            reads.note(nodes, index_table)
            seq = [n["Relation Name"] for n, _ in nodes if n["Node Type"] == "Seq Scan"]
            idx = sorted({str(n["Index Name"]) for n, _ in nodes if "Index Name" in n})
            first = next((n["Relation Name"] for n, _ in nodes if n.get("Relation Name")), "?")
            plans.append(
                (first, f"index: {', '.join(idx) or '-'}; seq scans: {', '.join(seq) or 'none'}")
            )
    finally:
        raw.close()
    engine.dispose()
    return plans, reads


def _nodes(plan: dict[str, Any], parent: str) -> list[tuple[dict[str, Any], str]]:
    """Every node of a plan with its parent's node type."""
    out = [(plan, parent)]
    for child in plan.get("Plans", []):
        out.extend(_nodes(child, str(plan["Node Type"])))
    return out


def table_rows(url: str, tables: set[str]) -> dict[str, int]:
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        found = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    engine.dispose()
    return found


def explain_prose(reads: Reads, rows: dict[str, int]) -> str:
    """What the plans above say, in words: written from them, so it changes when they do."""

    def sized(table: str) -> str:
        n = rows.get(table, 0)
        return f"{table} ({n:,} {'row' if n == 1 else 'rows'})"

    by_index = [
        f"{sized(t)} through {', '.join(f'`{i}`' for i in sorted(reads.indexes[t]))}"
        for t in sorted(reads.indexes, key=lambda t: -rows.get(t, 0))
    ]
    whole = [
        f"{sized(t)}, {' and '.join(sorted(reads.scanned[t]))}"
        for t in sorted(reads.scanned, key=lambda t: -rows.get(t, 0))
    ]
    big_scans = [t for t in reads.scanned if rows.get(t, 0) >= BIG_TABLE_ROWS]
    text_ = "Read through an index: " + ("; ".join(by_index) or "no table") + ". "
    text_ += "Read whole (sequential scan): " + ("; ".join(whole) or "no table") + ". "
    if big_scans:
        text_ += (
            f"**Not as it should be:** {', '.join(sorted(big_scans))} "
            f"{'has' if len(big_scans) == 1 else 'have'} {BIG_TABLE_ROWS:,} rows or more "
            "and is read whole: each team's digest pays for the whole table."
        )
    else:
        text_ += (
            f"No table of {BIG_TABLE_ROWS:,} rows or more is read whole; the sequential "
            "scans are of tables small enough that PostgreSQL prefers them to an index."
        )
    return text_


def run_digests(url: str, managers: int, settings: Settings) -> list[float]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    durations = []
    for m in range(1, managers + 1):
        started = time.perf_counter()
        with factory() as session:
            digest = team.manager_digest(
                session, manager_user_id=f"UM{m:07d}", now=NOW, settings=settings
            )
            assert digest.programs or digest.below_threshold
        durations.append(time.perf_counter() - started)
    engine.dispose()
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--managers", type=int, default=1000)
    parser.add_argument("--team", type=int, default=10)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "NUDGEBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server; the run creates and drops a database of its own there",
    )
    parser.add_argument("--doc", default=str(DOC), help="where to write the figures")
    parser.add_argument("--no-publish", action="store_true", help="Print only.")
    args = parser.parse_args()
    admin = require_postgres(
        args.database_url, how="pass --database-url or set NUDGEBOT_BENCH_POSTGRES_URL"
    )
    name = f"nudgebot_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(normalize_url(admin), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(admin)).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        print(f"loading {args.events:,} proof events for {args.managers:,} managers …", flush=True)
        load = fill(url, managers=args.managers, team_size=args.team, events=args.events)
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        plans, reads = explain_team_queries(url, "UM0000001", settings)
        sizes = table_rows(url, set(reads.indexes) | set(reads.scanned))
        started = time.perf_counter()
        durations = run_digests(url, args.managers, settings)
        total = time.perf_counter() - started
        engine = create_engine(normalize_url(url))
        with engine.connect() as conn:
            events = conn.execute(text("SELECT count(*) FROM proof_events")).scalar_one()
            deliveries = conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
        engine.dispose()
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
    durations.sort()
    p95 = durations[int(len(durations) * 0.95) - 1]
    rows = [
        ("proof events", f"{events:,}"),
        ("sent nudges (deliveries)", f"{deliveries:,}"),
        ("managers / people per team", f"{args.managers:,} / {args.team}"),
        ("all weekly digests, one process", f"{total:.1f} s (goal: under 60 s)"),
        (
            "per digest: median / p95 / max",
            f"{statistics.median(durations) * 1000:.0f} / "
            f"{p95 * 1000:.0f} / {durations[-1] * 1000:.0f} ms",
        ),
        ("data load (not timed in the goal)", f"{sum(load.values()):.0f} s"),
    ]
    body = markdown_table(("Figure", "Value"), rows)
    body += "\n\nEXPLAIN of each query one team's digest runs (PostgreSQL):\n\n"
    body += markdown_table(("First table", "Plan"), plans)
    body += "\n\n" + explain_prose(reads, sizes)
    if args.no_publish:
        print(body)
    else:
        title = "Weekly digests at company scale"
        publish("digest_scale", title, body, database=admin, doc=Path(args.doc))


if __name__ == "__main__":
    main()
