"""``field__one_of=ids``: a list of whole numbers sent to the database as one parameter.

``pk__in`` writes one placeholder per value: a 12,500-image selection is a
statement of 12,500 parameters, which Django prepares one by one (~7 µs each)
and the database parses and plans. ``one_of`` sends the list whole: an array
compared with ``= ANY`` on PostgreSQL, a JSON text read by ``json_each`` on
SQLite. Registered on the integer fields (so on every id) by
``boards.apps.BoardsConfig.ready``.
"""

import json

from django.db.models import Lookup


class OneOf(Lookup):
    lookup_name = "one_of"
    prepare_rhs = False

    def _values(self) -> list[int]:
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):  # SQLite and any other database with json_each
        lhs, lhs_params = self.process_lhs(compiler, connection)
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - lhs is the compiled column
        return sql, (*lhs_params, json.dumps(self._values()))

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, self._values())
