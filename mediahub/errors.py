"""Errors raised by services; one exception handler renders them in the contract's shape."""


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = fields or {}
        self.status = status or self.status


class InvalidInput(AppError):
    status = 400
    code = "validation_error"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class TooLarge(AppError):
    status = 413
    code = "too_large"


def one_or_not_found(queryset, object_id: str, missing: str):
    """The object or NotFound: someone else's object gets the same 404 as one that does not exist."""
    found = queryset.filter(pk=object_id).first()
    if found is None:
        raise NotFound(missing)
    return found
