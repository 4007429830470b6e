"""``field__one_of=ids``: a list of whole numbers sent to the database as one parameter.

``pk__in`` writes one placeholder per value: a 12,500-image selection is a
statement of 12,500 parameters, which Django prepares one by one (~7 µs each)
and the database parses and plans. ``one_of`` sends the list whole: an array
compared with ``= ANY`` on PostgreSQL, a JSON text read by ``json_each`` on
SQLite. A subquery (``values("pk")``) is read once into an array on
PostgreSQL, so its rows are then found by primary key (``IN (subquery)`` lets
the planner hash-join the whole table instead: a 25,000-image catalog batch
read all 275,000 rows to find them). Registered on the integer fields and foreign
keys (so on every id) by ``boards.apps.BoardsConfig.ready``.
"""

import json

from django.db.models import Lookup

BIGINT = range(-(2**63), 2**63)


class OneOf(Lookup):
    lookup_name = "one_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        """The values as a list, read once (a generator would be spent by the checks Django runs first);
        None and numbers no id column can hold match nothing, as with ``__in``."""
        if hasattr(self.rhs, "as_sql") or hasattr(self.rhs, "query"):
            return super().get_prep_lookup()
        return [int(value) for value in self.rhs if value is not None and int(value) in BIGINT]

    def _values(self) -> list[int]:
        return list(self.rhs)

    def _subquery(self, compiler, connection):
        sql, params = compiler.compile(self.rhs)
        return sql if sql.startswith("(") else f"({sql})", params

    def as_sql(self, compiler, connection):  # SQLite and any other database with json_each
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if hasattr(self.rhs, "as_sql"):  # a subquery
            sql, params = self._subquery(compiler, connection)
            return f"{lhs} IN {sql}", (*lhs_params, *params)
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - lhs is the compiled column
        return sql, (*lhs_params, json.dumps(self._values()))

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if hasattr(self.rhs, "as_sql"):  # a subquery
            sql, params = self._subquery(compiler, connection)
            return f"{lhs} = ANY(ARRAY{sql})", (*lhs_params, *params)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, self._values())
