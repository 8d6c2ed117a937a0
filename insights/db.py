"""Database expressions the insights figures need, for PostgreSQL and SQLite.

- ``SecondsBetween`` / ``DaysBetweenDates``: durations as plain numbers, so
  they can be compared, bucketed and ranked in SQL on both engines.
- ``grouped_stats``: counts and percentiles per group in the database. On
  PostgreSQL percentiles use the ordered-set aggregate ``percentile_cont``;
  other engines (SQLite has no percentile function) use window functions
  (``ROW_NUMBER`` and ``COUNT`` over a partition), which PostgreSQL runs too,
  so the tests compare both on PostgreSQL. Both give the same number:
  ``percentile_cont`` semantics, linear interpolation between the two nearest
  ranks (Hyndman & Fan 1996, definition 7; also NumPy's default).

Why not means: incident durations are heavily right-skewed, and a mean is
dominated by a few long incidents (Google SRE workbook, "Incident metrics";
Štěpán Davidovič, *Incident Metrics in SRE*, O'Reilly 2021). Medians and the
90th percentile with the count say what is typical and how bad the tail is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from django.db import connection, transaction
from django.db.models import Aggregate, Count, Expression, F, FloatField, Func, IntegerField, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.sql import Query


class SecondsBetween(Func):
    """``end - start`` in seconds (float), NULL when either is NULL.

    Args:
        start, end: datetime expressions (field names or expressions).
    """

    output_field = FloatField()
    arity = 2

    def __init__(self, start, end, **extra):
        super().__init__(start, end, **extra)

    def as_sql(self, compiler, connection, **extra_context):  # SQLite and others
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"((julianday({end[0]}) - julianday({start[0]})) * 86400.0)"
        return sql, (*end[1], *start[1])

    def as_postgresql(self, compiler, connection, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        # date_part() is double precision; EXTRACT() is numeric since PostgreSQL 14, and slower.
        sql = f"date_part('epoch', {end[0]} - {start[0]})"
        return sql, (*end[1], *start[1])


class DaysBetweenDates(Func):
    """Whole days from date ``start`` to date ``end`` (``end - start``, integer).

    Args:
        start, end: date expressions (a DateField, ``TruncDate(...)``, or
            ``Value(date)``).
    """

    output_field = IntegerField()
    arity = 2

    def __init__(self, start, end, **extra):
        super().__init__(start, end, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"CAST(ROUND(julianday({end[0]}) - julianday({start[0]})) AS INTEGER)"
        return sql, (*end[1], *start[1])

    def as_postgresql(self, compiler, connection, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        return f"(CAST({end[0]} AS date) - CAST({start[0]} AS date))", (*end[1], *start[1])


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)``.

    NULLs are ignored, as by every aggregate. PostgreSQL only: use
    ``grouped_stats``, which picks the method for the engine.
    """

    function = "percentile_cont"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        # The fraction is our constant, never user input; formatted as a literal.
        self.template = f"percentile_cont({fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        super().__init__(expression, **extra)


@dataclass(frozen=True)
class Percentiles:
    """What to rank: ``expression`` (numeric, NULL rows skipped) and the fractions."""

    expression: Expression
    fractions: tuple[float, ...] = (0.5, 0.9)


@contextmanager
def tuned_reads(work_mem: str = "64MB") -> Iterator[None]:
    """Run the block's queries with more sort memory on PostgreSQL.

    The figures sort hundreds of thousands of values (medians, per-team groups);
    with the default ``work_mem`` (4 MB) those sorts spill to disk; and JIT
    compilation costs more than it saves on these single-pass aggregates. ``SET LOCAL``
    lasts until the end of the transaction this opens, so nothing else is
    affected. Elsewhere (SQLite, whose transactions here take the write lock)
    it does nothing.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            # SET LOCAL: sort memory, and no JIT (its compile time, ~50 ms a query here,
            # costs more than it saves on these one-pass aggregates).
            cursor.execute(
                "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [work_mem]
            )
        yield


def _key(name: str, fraction: float) -> str:
    return f"{name}_p{round(fraction * 100):02d}"


def percentile_method() -> str:
    """``"percentile_cont"`` on PostgreSQL, ``"window"`` elsewhere."""
    return "percentile_cont" if connection.vendor == "postgresql" else "window"


def grouped_stats(
    queryset: QuerySet,
    *,
    group: str | Expression | None,
    aggregates: Mapping[str, Aggregate] | None = None,
    percentiles: Mapping[str, Percentiles] | None = None,
    method: str | None = None,
) -> dict[Any, dict[str, Any]]:
    """Aggregates and percentiles of ``queryset`` per group, computed in the database.

    Args:
        queryset: the rows (already filtered).
        group: a field path (``"team_id"``, ``"services__slug"``) or expression
            to group by; None for one group over all rows (key None).
        aggregates: ``{name: Count(...)/Sum(...)}``, computed per group.
        percentiles: ``{name: Percentiles(expr, (0.5, 0.9))}``; the result has
            ``<name>_n`` (rows with a value) and ``<name>_p50``, ``<name>_p90``
            (None when the group has no value).
        method: "percentile_cont" (PostgreSQL only) or "window"; default by engine.

    Returns:
        ``{group value: {name: value}}``; a group appears when it has a row.
        One query on PostgreSQL; one more per percentile entry elsewhere.

    Raises:
        ValueError: for an unknown method.
    """
    aggregates = dict(aggregates or {})
    percentiles = dict(percentiles or {})
    method = method or percentile_method()
    if method not in ("percentile_cont", "window"):
        raise ValueError(f"unknown percentile method {method!r}")

    group_expr = (F(group) if isinstance(group, str) else group) if group is not None else Value(0)
    base = queryset.order_by().annotate(ins_group=group_expr)

    for name, spec in percentiles.items():
        aggregates[f"{name}_n"] = Count(spec.expression)
        if method == "percentile_cont":
            for fraction in spec.fractions:
                aggregates[_key(name, fraction)] = PercentileCont(spec.expression, fraction)

    results: dict[Any, dict[str, Any]] = {}
    if aggregates:
        for row in base.values("ins_group").annotate(**aggregates):
            key = row.pop("ins_group")
            results[None if group is None else key] = row
    if method == "window":
        for name, spec in percentiles.items():
            for key, values in _window_percentiles(base, spec).items():
                results.setdefault(None if group is None else key, {}).update(
                    {_key(name, f): v for f, v in values.items()}
                )
    for row in results.values():
        for name, spec in percentiles.items():
            for fraction in spec.fractions:
                row.setdefault(_key(name, fraction), None)
    return results


def _window_percentiles(base: QuerySet, spec: Percentiles) -> dict[Any, dict[float, float]]:
    """``percentile_cont`` of ``spec`` per ``ins_group`` of ``base``, with window functions."""
    inner = base.annotate(ins_value=spec.expression).values("ins_group", "ins_value")
    sql, params = inner.query.sql_with_params()
    found = _window_percentiles_sql(sql, tuple(params), "ins_value", spec.fractions, grouped=True)
    convert = _converter(base.query.annotations["ins_group"])
    return {convert(key): values for key, values in found.items()}


def _window_percentiles_sql(
    rows_sql: str, params: tuple, column: str, fractions: Sequence[float], *, grouped: bool
) -> dict[Any, dict[float, float | None]]:
    """``percentile_cont`` with window functions, for engines without it.

    Rank the non-NULL values of ``column`` in each ``ins_group`` of ``rows_sql``
    (``ROW_NUMBER() OVER (PARTITION BY g ORDER BY x)``) and count them
    (``COUNT(*) OVER (PARTITION BY g)``); for a fraction ``p = a/b`` the value
    is at 1-based position ``h = 1 + p(n-1)``, so interpolate between ranks
    ``1 + a(n-1) div b`` and the next one with weight ``(a(n-1) mod b) / b``.
    Integer arithmetic keeps the ranks exact. ``grouped=False`` ranks all rows
    as one group (key None).
    """
    columns = []
    for fraction in fractions:
        ratio = Fraction(fraction).limit_denominator(10_000)
        a, b = ratio.numerator, ratio.denominator
        low = f"(1 + ({a} * (n - 1)) / {b})"
        # (a(n-1) mod b) / b, written without "%" (a placeholder character for the drivers).
        weight = f"((({a} * (n - 1)) - {b} * (({a} * (n - 1)) / {b})) * 1.0 / {b})"
        columns.append(
            f"SUM(CASE WHEN rn = {low} THEN x * (1.0 - {weight}) "
            f"WHEN rn = {low} + 1 THEN x * {weight} ELSE 0 END)"
        )
    group = "ins_group" if grouped else "0"
    # Built only from constants and column names; every user value stays in ``params``.
    sql = (
        f"SELECT g, {', '.join(columns)} FROM ("  # noqa: S608
        f"SELECT {group} AS g, CAST({column} AS double precision) AS x, "
        f"ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY {column}) AS rn, "
        f"COUNT(*) OVER (PARTITION BY {group}) AS n "
        f"FROM ({rows_sql}) ins_base WHERE {column} IS NOT NULL) ins_ranked GROUP BY g"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        (row[0] if grouped else None): {
            f: (float(v) if v is not None else None) for f, v in zip(fractions, row[1:], strict=True)
        }
        for row in rows
    }


def _converter(expression) -> Callable[[Any], Any]:
    """Convert a raw value of ``expression`` as the ORM would (dates are text on SQLite)."""
    converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)

    def convert(value):
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return convert


# --- a table of rows, then aggregates over it -------------------------------------------------

TOTAL = "__total__"
"""The key of the row over all groups in ``summarise(..., total=True)``."""


def column(name: str, output_field) -> RawSQL:
    """A column of the row table, for expressions compiled with ``compile_sql``."""
    # Our own column names (constants of the selectors), quoted; never user input.
    return RawSQL(connection.ops.quote_name(name), (), output_field=output_field)  # noqa: S611


def compile_sql(expression) -> tuple[str, tuple]:
    """SQL and parameters of an expression over ``column(...)`` references."""
    compiler = Query(None).get_compiler(connection=connection)
    sql, params = compiler.compile(expression)
    return sql, tuple(params)


def summarise(
    rows: QuerySet,
    *,
    sums: Sequence[str] = (),
    maximums: Sequence[str] = (),
    percentiles: Mapping[str, Sequence[float]] | None = None,
    derived: Mapping[str, tuple[str, tuple]] | None = None,
    total: bool = False,
    method: str | None = None,
) -> dict[Any, dict[str, Any]]:
    """Aggregate a table of rows computed once per row: sums of 0/1 flag columns
    and percentiles of value columns, per ``ins_group`` (and over all rows).

    Why: an aggregate's FILTER or an annotation referenced several times is
    repeated in the SQL, so an expensive per-row value (a correlated subquery)
    would be computed once per reference; here it is computed once, in ``rows``.

    Args:
        rows: a ``.values(...)`` queryset with an ``ins_group`` column and the
            named columns (flags as 0/1 integers, values as numbers or NULL).
        sums: flag columns to add up (``<name>`` in the result).
        maximums: integer columns whose largest value is wanted (None when no value).
        percentiles: ``{column: fractions}``; the result has ``<column>_n`` and
            ``<column>_p50`` etc. (None when no value).
        derived: more columns computed from the row table's columns,
            ``{name: (sql, params)}`` (see ``column`` and ``compile_sql``).
        total: add the row over all groups under the key ``TOTAL`` (PostgreSQL:
            ``GROUP BY ROLLUP``, one scan; elsewhere one more query).
        method: as in ``grouped_stats``.

    Returns:
        ``{group value | TOTAL: {name: value}}`` for the groups that have rows.
    """
    percentiles = dict(percentiles or {})
    method = method or percentile_method()
    rows_sql, params = rows.query.sql_with_params()
    params = tuple(params)
    # A fence: without it the planner inlines the row table into the aggregates
    # and computes each column once per reference again (an empty OFFSET keeps
    # PostgreSQL and SQLite from flattening the subquery).
    rows_sql += " OFFSET 0" if connection.vendor == "postgresql" else " LIMIT -1 OFFSET 0"
    if derived:
        extra = ", ".join(f"{sql} AS {connection.ops.quote_name(name)}" for name, (sql, _) in derived.items())
        # The derived columns' parameters come first: they precede the inner query in the SQL.
        params = tuple(p for _, (_, ps) in derived.items() for p in ps) + params
        rows_sql = f"SELECT ins_rows.*, {extra} FROM ({rows_sql}) ins_rows"  # noqa: S608
    convert = _converter(rows.query.annotations["ins_group"])
    q = connection.ops.quote_name

    def select_list(with_percentiles: bool) -> list[str]:
        items = [f"SUM({q(name)})" for name in sums] + [f"MAX({q(name)})" for name in maximums]
        items += [f"COUNT({q(name)})" for name in percentiles]
        if with_percentiles:
            items += [
                f"percentile_cont({float(f)!r}) WITHIN GROUP (ORDER BY {q(name)})"
                for name, fractions in percentiles.items()
                for f in fractions
            ]
        return items

    names = list(sums) + list(maximums) + [f"{name}_n" for name in percentiles]
    native = method == "percentile_cont"
    if native:
        names += [_key(name, f) for name, fractions in percentiles.items() for f in fractions]

    def shape(values: Sequence[Any]) -> dict[str, Any]:
        shaped = {n: (int(v or 0) if n in sums else v) for n, v in zip(names, values, strict=True)}
        for name in maximums:
            shaped[name] = None if shaped[name] is None else int(shaped[name])
        return shaped

    results: dict[Any, dict[str, Any]] = {}
    with connection.cursor() as cursor:
        if native and total:
            cursor.execute(
                f"SELECT ins_group, GROUPING(ins_group), {', '.join(select_list(True))} "  # noqa: S608
                f"FROM ({rows_sql}) ins_table GROUP BY ROLLUP (ins_group)",
                params,
            )
            for row in cursor.fetchall():
                results[TOTAL if row[1] else convert(row[0])] = shape(row[2:])
        else:
            cursor.execute(
                f"SELECT ins_group, {', '.join(select_list(native))} "  # noqa: S608
                f"FROM ({rows_sql}) ins_table GROUP BY ins_group",
                params,
            )
            for row in cursor.fetchall():
                results[convert(row[0])] = shape(row[1:])
            if total:
                cursor.execute(f"SELECT {', '.join(select_list(native))} FROM ({rows_sql}) ins_table", params)  # noqa: S608
                results[TOTAL] = shape(cursor.fetchone())
    if not native:
        for name, fractions in percentiles.items():
            found = _window_percentiles_sql(rows_sql, params, q(name), fractions, grouped=True)
            for key, values in found.items():
                results.setdefault(convert(key), {}).update({_key(name, f): v for f, v in values.items()})
            if total:
                for values in _window_percentiles_sql(
                    rows_sql, params, q(name), fractions, grouped=False
                ).values():
                    results.setdefault(TOTAL, {}).update({_key(name, f): v for f, v in values.items()})
    for row in results.values():
        for name, fractions in percentiles.items():
            for f in fractions:
                row.setdefault(_key(name, f), None)
    return results
