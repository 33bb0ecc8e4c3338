class MediaError(Exception):
    """A failure with a stable code and a message meant for people; `permanent` ones are not retried."""

    def __init__(self, code: str, message: str, *, detail: str = "", permanent: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.permanent = permanent

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.detail:
            error["detail"] = self.detail
        return error


class Cancelled(Exception):
    """The job was cancelled (or taken from this worker) while FFmpeg ran."""
