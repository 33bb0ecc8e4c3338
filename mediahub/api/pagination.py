from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """`{"results", "next", "previous"}`, newest first; stable while rows are added."""

    ordering = "-created_at"
    page_size_query_param = "limit"
    max_page_size = 200
