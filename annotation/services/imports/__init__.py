"""Importing items: reader → record parser → writer, behind one service.

``read_lines`` (readers) turns an upload into numbered rows without holding the file in memory;
``parse_row`` (records) turns one row, in any accepted format, into a normalised
:class:`ItemRecord` or a list of problems; ``ItemWriter`` (writer) bulk-writes records in
chunks. :func:`import_items` (service) ties them together inside one transaction, so a file
with any bad line stores nothing.
"""

from annotation.services.imports.errors import ImportProblem, ImportRejected
from annotation.services.imports.records import ItemRecord, ResponseRecord, parse_row
from annotation.services.imports.service import ImportResult, import_items

__all__ = [
    "ImportProblem",
    "ImportRejected",
    "ImportResult",
    "ItemRecord",
    "ResponseRecord",
    "import_items",
    "parse_row",
]
