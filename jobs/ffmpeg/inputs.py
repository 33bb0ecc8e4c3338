"""How FFmpeg may open user files: local files only, through demuxers for plain media.

Playlist and script demuxers (hls, dash, concat, tty, …) are left out, so a user's file can never make FFmpeg
open other files or URLs; a run that needs more (a concat list we wrote) names what it needs."""

SAFE_DEMUXERS = ",".join(
    [
        "mov", "matroska", "avi", "flv", "mpegts", "mpeg", "mpegvideo", "ogg", "asf", "mxf", "ivf",
        "h264", "hevc", "m4v", "wav", "w64", "mp3", "aac", "flac", "aiff", "caf", "amr", "wv",
        "gif", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe",
        "srt", "webvtt", "ass",
    ]
)  # fmt: skip


def input_options(protocols: str = "file") -> dict[str, str]:
    """Options for every user input: `-protocol_whitelist` and `-format_whitelist`."""
    return {"protocol_whitelist": protocols, "format_whitelist": SAFE_DEMUXERS}


def input_args(protocols: str = "file") -> list[str]:
    return [arg for name, value in input_options(protocols).items() for arg in (f"-{name}", value)]
