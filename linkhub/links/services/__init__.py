"""Every write to links and tags, by sub-domain: ``links`` (save, edit, delete, bulk, page text),
``tags`` (every tag change and its audit row), ``search`` (the index) and ``imports``. The
public names are here too, so callers write ``services.link_create``."""

from .imports import IMPORT_ERRORS_KEPT, import_run, import_start, imports_sweep_stale
from .links import (
    BULK_ACTIONS,
    CONTENT_TEXT_MAX,
    link_content_set,
    link_create,
    link_delete,
    link_update,
    links_bulk_update,
    links_delete,
)
from .search import SEARCH_TEXT_MAX, link_search_refresh
from .tags import (
    Change,
    Decided,
    link_tag_decide,
    link_tags_set,
    tag_changes_record,
    tag_delete,
    tag_merge,
    tag_names_clean,
    tag_rename,
    tags_add,
    tags_remove,
    tags_resolve,
)

__all__ = [
    "BULK_ACTIONS",
    "CONTENT_TEXT_MAX",
    "IMPORT_ERRORS_KEPT",
    "SEARCH_TEXT_MAX",
    "Change",
    "Decided",
    "import_run",
    "import_start",
    "imports_sweep_stale",
    "link_content_set",
    "link_create",
    "link_delete",
    "link_search_refresh",
    "link_tag_decide",
    "link_tags_set",
    "link_update",
    "links_bulk_update",
    "links_delete",
    "tag_changes_record",
    "tag_delete",
    "tag_merge",
    "tag_names_clean",
    "tag_rename",
    "tags_add",
    "tags_remove",
    "tags_resolve",
]
