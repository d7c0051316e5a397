"""Dates as written in authoring files: YYYY-MM-DD, YYYY-MM or YYYY."""

from __future__ import annotations

import datetime as dt
import re

from rdflib import Literal
from rdflib.namespace import XSD

YEAR_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def date_literal(value: object) -> Literal | None:
    """An xsd:date, xsd:gYearMonth or xsd:gYear literal, or None if ``value`` is no such date."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return Literal(value.isoformat(), datatype=XSD.date)
    if isinstance(value, int) and 1000 <= value <= 9999:
        return Literal(str(value), datatype=XSD.gYear)
    if isinstance(value, str) and YEAR_MONTH.match(value):
        return Literal(value, datatype=XSD.gYearMonth)
    return None


def day_literal(value: object) -> Literal | None:
    """An xsd:date literal for a full date only (used for date bounds), or None."""
    literal = date_literal(value)
    return literal if literal is not None and literal.datatype == XSD.date else None
