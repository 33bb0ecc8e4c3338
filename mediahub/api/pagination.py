from datetime import UTC

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """`{"results", "next", "previous"}`, newest first; stable while rows are added."""

    ordering = "-created_at"
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        """DRF's cursor, whose position must be a time we could have written: a forged one (the cursor is plain
        base64) would otherwise reach the query and fail there with a 500."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                position = parse_datetime(cursor.position)
                if position is None:
                    raise ValueError(cursor.position)
                position.astimezone(UTC)  # the database compares in UTC; year 1 or 9999 may not convert
            except (ValueError, OverflowError):
                raise NotFound(self.invalid_cursor_message) from None
        return cursor
