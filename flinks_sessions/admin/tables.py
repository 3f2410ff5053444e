"""What every admin table of records shares: nobody types rows in or edits them, and a million rows stay quick.

Sessions, webhook deliveries and audit lines are evidence written by the app and by Flinks, so the admin reads
them and never adds or changes one; deleting one is a superuser's act (a data-erasure request) where allowed at
all. Their lists never count the whole table (``pagination``) and search only by lookups an index serves
(``search``). The permissions are written here once, for the tables and for the audit trail's inline.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from flinks_sessions.admin.pagination import LIST_PER_PAGE, EstimatedCountPaginator


def may_view(request: HttpRequest, model: type[Model]) -> bool:
    """The view permission on ``model``, or the change permission sites granted before it became read-only."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or request.user.has_perm(
        f"{opts.app_label}.change_{opts.model_name}"
    )


class ReadOnly:
    """Read-only permissions: no add, no change; delete only by a superuser, or by nobody.

    ``viewed_as`` names the model whose permissions let one read these rows (the audit trail is visible to
    whoever may see the sessions, with no separate permission); by default, the rows' own model.
    """

    superuser_deletes: ClassVar[bool] = True
    viewed_as: ClassVar[type[Model] | None] = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.superuser_deletes and bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_view(request, self.viewed_as or self.model)  # type: ignore[attr-defined]


class LargeReadOnlyTable(ReadOnly):
    """A read-only changelist for a million rows: no full count, and each search word narrows by an index.

    ``search_match`` (a ``staticmethod`` from :mod:`flinks_sessions.admin.search`) turns a word into the lookup.
    """

    # At a million rows, counting them costs more than the page: see admin/pagination.py.
    paginator: ClassVar[type] = EstimatedCountPaginator
    list_per_page: ClassVar[int] = LIST_PER_PAGE
    show_full_result_count: ClassVar[bool] = False
    search_match: ClassVar[Any] = None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Each word narrows the list by a lookup an index serves (see ``admin/search.py``); no duplicates."""
        if self.search_match is None:  # no search box: what Django does without search fields
            return queryset, False
        for term in search_term.split():
            match: Q = self.search_match(term)
            queryset = queryset.filter(match)
        return queryset, False
