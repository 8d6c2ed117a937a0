"""Page-number pagination with a client-chosen, capped page size."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N&page_size=M``; page size defaults to 20 and is capped at 100 (OWASP API4)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
