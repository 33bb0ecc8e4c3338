"""The operation registry: names → operations; the catalog endpoint is generated from it."""

import functools

from compositions.highlights.operation import Highlights
from compositions.render import Render
from jobs.operations.analyze import Analyze
from jobs.operations.audio import Audio
from jobs.operations.base import Operation
from jobs.operations.concat import Concat
from jobs.operations.filters import Filters
from jobs.operations.gif import Gif
from jobs.operations.quality import Quality
from jobs.operations.streaming import Dash, Hls
from jobs.operations.subtitles import Subtitles
from jobs.operations.thumbnail import Thumbnail
from jobs.operations.transcode import Transcode
from jobs.operations.transcribe import Transcribe
from jobs.operations.trim import Trim
from jobs.operations.watermark import Watermark
from providers.operation import Generate

REGISTRY: dict[str, Operation] = {
    op.name: op
    for op in (
        Transcode(),
        Thumbnail(),
        Gif(),
        Hls(),
        Dash(),
        Audio(),
        Watermark(),
        Trim(),
        Concat(),
        Subtitles(),
        Filters(),
        Analyze(),
        Quality(),
        Transcribe(),
        Render(),
        Highlights(),
        Generate(),
    )
}


def get_operation(name: str) -> Operation | None:
    return REGISTRY.get(name)


@functools.cache
def _listed() -> list[tuple[Operation, dict, dict]]:
    """The catalog's fixed part, built once per process: pydantic takes milliseconds per JSON schema."""
    return [
        (
            op,
            {
                "name": op.name,
                "description": op.description,
                "inputs": {"min": op.min_inputs, "max": op.max_inputs, "kinds": list(op.input_kinds)},
                "asset_params": {name: list(kinds) for name, kinds in op.asset_params.items()},
            },
            op.params_model.model_json_schema(),
        )
        for op in REGISTRY.values()
        if not op.submit_via
    ]


def catalog() -> list[dict]:
    """Capabilities are asked each time (cached probes of this FFmpeg build and settings; microseconds)."""
    return [{**head, "capabilities": op.capabilities(), "params_schema": schema} for op, head, schema in _listed()]
