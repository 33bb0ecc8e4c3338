"""What every operation is: validated params, accepted inputs, and a run that writes output files."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from jobs.ffmpeg.errors import MediaError

if TYPE_CHECKING:
    from jobs.execution import JobContext


class FieldError(ValueError):
    """A cross-field params error that names the field it is about (`params.<field>` in the response)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Params(BaseModel):
    """Base of every operation's params: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class OutputFile:
    path: Path
    name: str


@dataclass
class OutputFolder:
    """A folder stored as one asset (kind stream): `main` (a playlist or manifest, relative to `path`) is its
    file, every other file under `path` a member. `probes` are local media files (not members) whose streams
    describe the asset; `duration` is the whole presentation's."""

    path: Path
    main: str
    name: str
    probes: list[Path]
    duration: float | None = None


@dataclass
class Outcome:
    files: list[OutputFile | OutputFolder] = field(default_factory=list)
    result: dict | None = None


class Operation(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[Params]]
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int] = 1
    input_kinds: ClassVar[tuple[str, ...]] = ("video",)
    # Params that name assets (a watermark's image, a quality reference) → the kinds each accepts. They are
    # resolved in the owner's assets at submit time and reach `run` as `ctx.param_asset(name)`.
    asset_params: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Set for operations that own a record of their own (a generation): jobs of it come only from that API.
    submit_via: ClassVar[str] = ""
    output_source: ClassVar[str] = "job"  # Asset.source of the outputs

    def capabilities(self) -> dict:
        """What this FFmpeg build lets the operation do (listed in the catalog), e.g. whether VMAF exists."""
        return {}

    def check_inputs(self, assets: list, params: Params) -> dict[str, list[str]]:
        """Field errors (`inputs.N`) for inputs this operation cannot use; empty when all are fine."""
        errors = {}
        for index, asset in enumerate(assets):
            if asset.kind not in self.input_kinds:
                wanted = " or ".join(self.input_kinds)
                errors[f"inputs.{index}"] = [f"{asset.id} is {asset.kind}, this operation needs {wanted}."]
            elif "video" in self.input_kinds and len(self.input_kinds) == 1 and not asset.has_video:
                errors[f"inputs.{index}"] = [f"{asset.id}: input has no video stream."]
        return errors

    def link_result(self, result: dict | None, stored: dict[str, str]) -> dict | None:
        """The result to store once the outputs are assets; `stored` maps each output's name to its asset id
        (a result that refers to its files by name swaps in their ids here)."""
        return result

    def present_result(self, result: dict, outputs: Callable[[], dict[str, dict]]) -> dict:
        """The result as the API shows it; `outputs()` gives the job's output assets as the API shows them, by id."""
        return result

    @abstractmethod
    def run(self, ctx: "JobContext", params: Params) -> Outcome:
        """Read inputs through `ctx`, run FFmpeg through `ctx.ffmpeg`, return the files written."""

    @staticmethod
    def require_video(asset) -> None:
        if not asset.has_video:
            raise MediaError("no_video_stream", "input has no video stream")
