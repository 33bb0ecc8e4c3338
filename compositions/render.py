"""render: a composition's timeline in one FFmpeg pass (the operation behind /api/v1/compositions)."""

import re

import ffmpeg
from django.conf import settings

from compositions.graph import Graph, Source
from compositions.spec import CompositionSpec, named_assets, place_clips
from jobs.ffmpeg.errors import MediaError
from jobs.ffmpeg.probe import probe_file
from jobs.operations.base import FieldError, Operation, Outcome, OutputFile
from mediahub.errors import AppError
from mediahub.ssrf import fetch_to_file

ALL_KINDS = ("video", "audio", "image", "subtitle")


def url_keys(spec: CompositionSpec) -> list[str]:
    urls = [clip.video_url for clip in spec.clips if clip.video_url]
    urls += [url for url in (spec.audio.music_url, spec.audio.voiceover_url) if url]
    return list(dict.fromkeys(urls))


def clip_keys(spec: CompositionSpec) -> list[str]:
    return [clip.asset or clip.image or clip.video_url for clip in spec.clips]


class Render(Operation):
    name = "render"
    description = "Render a composition (clips, transitions, audio mix, overlays) in one FFmpeg pass."
    params_model = CompositionSpec
    min_inputs = 0
    max_inputs = 500
    input_kinds = ALL_KINDS

    def check_inputs(self, assets, spec: CompositionSpec) -> dict[str, list[str]]:
        """Every asset the spec names must be one of the job's inputs, of a kind that place accepts."""
        given = {asset.id: asset for asset in assets}
        errors = {}
        for path, asset_id, kinds in named_assets(spec):
            asset = given.get(asset_id)
            if asset is None:
                errors[f"params.{path}"] = [f"{asset_id} is not among the job's inputs."]
            elif asset.kind not in kinds:
                errors[f"params.{path}"] = [f"{asset_id} is {asset.kind}; this needs {' or '.join(kinds)}."]
        return errors

    def run(self, ctx, spec: CompositionSpec) -> Outcome:
        sources = {asset.id: self.asset_source(ctx, asset) for asset in ctx.inputs}
        for number, url in enumerate(url_keys(spec)):
            sources[url] = self.fetch(ctx, url, number)
        keys = clip_keys(spec)
        durations = {i: sources[key].duration if sources[key].kind != "image" else None for i, key in enumerate(keys)}
        try:
            placed = place_clips(spec, durations)
        except FieldError as exc:
            raise MediaError("invalid_timeline", f"{exc.field}: {exc}") from None
        captions = self.prepare_captions(ctx, spec)
        out_path = ctx.output_path(f"composition.{spec.output.format}")
        graph = Graph(spec, sources, ctx.workdir)
        args, total = graph.command(placed, keys, out_path, captions)
        ctx.ffmpeg(args, duration=total, stage="rendering", span=(3.0, 97.0))
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", spec.title).strip("-.")[:60] or "composition"
        files = [OutputFile(out_path, f"{name}.{spec.output.format}")]
        if spec.output.poster is not None:
            poster = ctx.output_path("poster.jpg")
            at = min(spec.output.poster, max(0.0, total - 1 / spec.output.fps))
            args = ffmpeg.input(str(out_path), ss=at).output(str(poster), vframes=1, **{"q:v": 3}).get_args()
            ctx.ffmpeg(args, duration=None, stage="poster", span=(97.0, 99.0))
            files.append(OutputFile(poster, f"{name}-poster.jpg"))
        result = {
            "duration": round(total, 3),
            "width": graph.width,
            "height": graph.height,
            "fps": spec.output.fps,
            "clips": [{"index": p.index, "start": round(p.start, 3), "end": round(p.end, 3)} for p in placed],
        }
        return Outcome(files=files, result=result)

    @staticmethod
    def asset_source(ctx, asset) -> Source:
        return Source(ctx.local_path(asset), asset.duration, asset.has_audio, asset.kind)

    @staticmethod
    def fetch(ctx, url: str, number: int) -> Source:
        ctx.set_stage("fetching")
        target = ctx.workdir / "inputs" / f"url-{number}"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with ctx.keepalive():
                fetch_to_file(url, target, max_bytes=settings.MEDIAHUB_MAX_UPLOAD_BYTES)
        except AppError as exc:
            raise MediaError("source_fetch_failed", f"{url}: {exc.message}") from None
        info = probe_file(target)
        if info.kind not in ("video", "audio", "image"):
            raise MediaError("unusable_source", f"{url} is not a video, audio or image file FFmpeg can read.")
        return Source(target, info.duration, bool(info.audio_codec), info.kind)

    @staticmethod
    def prepare_captions(ctx, spec: CompositionSpec):
        """The captions as an ASS file we wrote: the subtitles filter would open any path or format itself."""
        if spec.captions is None:
            return None
        subtitles = next(asset for asset in ctx.inputs if asset.id == spec.captions.asset)
        prepared = ctx.workdir / "captions.ass"
        convert = ffmpeg.input(str(ctx.local_path(subtitles)), **ctx.input_options())
        ctx.ffmpeg(convert.output(str(prepared), **{"c:s": "ass"}).get_args(), duration=None, stage="captions",
                   span=(0.0, 3.0))  # fmt: skip
        return prepared
