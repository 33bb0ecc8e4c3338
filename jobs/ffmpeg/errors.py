class MediaError(Exception):
    """A failure with a stable code and a message meant for people; `detail` keeps FFmpeg's own words."""

    def __init__(self, code: str, message: str, *, detail: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.detail:
            error["detail"] = self.detail
        return error


class Cancelled(Exception):
    """The job was cancelled (or taken from this worker) while FFmpeg ran."""
