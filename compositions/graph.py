"""A placed timeline → one FFmpeg command with one filter graph: every source decoded once (split when several
clips use it), clips trimmed, retimed and fitted, joined by concat or xfade, overlays drawn, audio mixed.
No intermediate files, no frames through Python."""

import textwrap
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from compositions.highlights.reframe import CropPath, crop_filter
from compositions.spec import CompositionSpec, ImageOverlay, Placement, TextOverlay
from jobs.ffmpeg.filtergraph import drawtext_textfile, filter_path, filter_value
from jobs.ffmpeg.inputs import input_options
from jobs.operations.subtitles import force_style

SAMPLE_RATE = 48000
MARGIN = 0.04  # of the short side, for position presets
LINE_SPACING = 1.25
# Encoder settings per quality: (x264 CRF, x264 preset, VP9 CRF, ProRes profile, audio bitrate).
QUALITY = {
    "low": (28, "veryfast", 40, 0, "96k"),
    "medium": (23, "veryfast", 33, 2, "128k"),
    "high": (18, "medium", 27, 3, "192k"),
}
PREVIEW = {"crf": 32, "preset": "ultrafast"}
# A source whose clips all start this far in is opened with an input seek (less would save little decoding).
SEEK_FROM = 2.0


@dataclass
class Source:
    path: Path
    duration: float | None
    has_audio: bool
    kind: str  # video, image or audio


def hex_color(color: str) -> str:
    """#RRGGBB[AA] as FFmpeg's 0xRRGGBB[AA]."""
    return "0x" + color[1:]


def atempo_chain(stream, speed: float):
    """atempo takes 0.5–2.0 per instance: chain them for 0.25–4."""
    while speed > 2.0:
        stream, speed = stream.filter("atempo", 2.0), speed / 2.0
    while speed < 0.5:
        stream, speed = stream.filter("atempo", 0.5), speed / 0.5
    return stream.filter("atempo", round(speed, 6)) if abs(speed - 1) > 1e-6 else stream


class Graph:
    def __init__(self, spec: CompositionSpec, sources: dict[str, Source], workdir: Path):
        self.spec, self.sources, self.workdir = spec, sources, workdir
        self.preview = preview = spec.output.preview
        out = spec.output
        self.width, self.height = out.size
        if preview:  # 360 on the short side, the output's aspect ratio kept (a square stays square)
            wide, tall = out.size
            long_side = round(360 * max(wide, tall) / min(wide, tall) / 2) * 2
            self.width, self.height = (long_side, 360) if wide >= tall else (360, long_side)
        self.fps = out.fps
        self._inputs: dict[tuple[str, str], object] = {}
        self._uses: dict[tuple[str, str], int] = {}
        self._split: dict[tuple[str, str], list] = {}
        self._seek: dict[str, float] = {}

    # --- inputs: each stream decoded once; a stream several clips use is split -------------------------

    def _input(self, key: str, kind: str):
        """The file opened for its video (`-an`) or for its audio (`-vn`): a source with both is opened twice and
        each stream still decoded once. Through one demuxer the video is read as far ahead as the audio needs,
        and the decoded frames wait in the graph (bench/composition_render.py: 500 → 370 MiB)."""
        slot = (key, kind)
        if slot not in self._inputs:
            source = self.sources[key]
            options = input_options() | ({"an": None} if kind == "v" else {"vn": None})
            if source.kind == "image":
                options |= {"loop": 1, "framerate": self.fps}
            elif self._seek.get(key):
                options |= {"ss": round(self._seek[key], 6)}
            self._inputs[slot] = ffmpeg.input(str(source.path), **options)
        return self._inputs[slot]

    def seek_to(self, placed: list[Placement], keys: list[str]) -> None:
        """Open each video source at the earliest point its clips use (`-ss` before `-i`: FFmpeg jumps to the
        keyframe before it and decodes only from there, instead of decoding and trimming away the minutes before a
        highlight). A source some clip uses from near its start is read from the start."""
        for index, key in enumerate(keys):
            if self.sources[key].kind != "image":
                self._seek[key] = min(self._seek.get(key, placed[index].source_in), placed[index].source_in)
        self._seek = {key: at for key, at in self._seek.items() if at >= SEEK_FROM}

    def source_window(self, placed: Placement, key: str) -> tuple[float, float]:
        """Where the clip starts and ends in its source as the opened input sees it (after any seek)."""
        start = placed.source_in - self._seek.get(key, 0.0)
        return round(start, 6), round(start + placed.source_length, 6)

    def count(self, key: str, kind: str) -> None:
        self._uses[(key, kind)] = self._uses.get((key, kind), 0) + 1

    def stream(self, key: str, kind: str):
        """The next unused copy of input `key`'s video or audio stream."""
        slot = (key, kind)
        if slot not in self._split:
            base = self._input(key, kind).video if kind == "v" else self._input(key, kind).audio
            uses = self._uses.get(slot, 1)
            if uses > 1:
                node = base.split() if kind == "v" else base.filter_multi_output("asplit", uses)
                self._split[slot] = [node[i] for i in range(uses)]
            else:
                self._split[slot] = [base]
        return self._split[slot].pop(0)

    @staticmethod
    def lavfi(source: str):
        return ffmpeg.input(source, f="lavfi")

    # Gaps and silences are whole lavfi graphs, no filters after them: ffmpeg-python merges identical filter
    # nodes, so two equal gaps filtered here would be one node with two outputs (it refuses that graph), while
    # equal inputs merge into one input whose stream FFmpeg may feed to several filters.
    def black(self, seconds: float):
        color = hex_color(self.spec.output.background)
        source = f"color=c={color}:s={self.width}x{self.height}:r={self.fps}:d={seconds:.6f},format=yuv420p"
        return self.lavfi(source).video, self.silence(seconds)

    def silence(self, seconds: float):
        return self.lavfi(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end={round(seconds, 6)}").audio

    # --- clips -------------------------------------------------------------------------------------------

    def fit(self, video, mode: str):
        w, h, color = self.width, self.height, hex_color(self.spec.output.background)
        if mode == "stretch":
            return video.filter("scale", w, h)
        if mode == "cover":
            return video.filter("scale", w, h, force_original_aspect_ratio="increase").filter("crop", w, h)
        contained = video.filter("scale", w, h, force_original_aspect_ratio="decrease", force_divisible_by=2)
        if mode == "contain":
            return contained.filter("pad", w, h, "(ow-iw)/2", "(oh-ih)/2", color=color)
        copies = video.split()  # contain-blur: the picture over a blurred, filled copy of itself
        background, foreground = copies[0], copies[1]
        background = (
            background.filter("scale", w, h, force_original_aspect_ratio="increase")
            .filter("crop", w, h)
            .filter("boxblur", luma_radius=20, luma_power=2)
        )
        foreground = foreground.filter("scale", w, h, force_original_aspect_ratio="decrease", force_divisible_by=2)
        return ffmpeg.overlay(background, foreground, x="(W-w)/2", y="(H-h)/2")

    def clip_video(self, placed: Placement, key: str):
        clip = placed.clip
        video = self.stream(key, "v")
        if self.sources[key].kind == "image":
            video = video.filter("trim", end=round(placed.length, 6)).filter("setpts", "PTS-STARTPTS")
            video = self.fit(video, clip.fit)
            if clip.ken_burns:  # a slow, steady zoom to 120 % over the clip, centred
                frames = max(1, round(placed.length * self.fps))
                video = video.filter(
                    "zoompan",
                    z=f"1+0.2*on/{frames}",
                    x="iw/2-(iw/zoom/2)",
                    y="ih/2-(ih/zoom/2)",
                    d=1,
                    s=f"{self.width}x{self.height}",
                    fps=self.fps,
                )
        else:
            start, end = self.source_window(placed, key)
            video = video.filter("trim", start=start, end=end).filter("setpts", "PTS-STARTPTS")
            if clip.reframe is not None:
                frame = clip.reframe
                video = crop_filter(video, CropPath(frame.width, frame.height, frame.points, "track"), self.workdir)
            if clip.speed != 1:
                video = video.filter("setpts", f"PTS/{clip.speed}")
            video = self.fit(video.filter("fps", self.fps), clip.fit)
        video = video.filter("setsar", 1).filter("format", "yuv420p")
        if self.sources[key].kind == "image":
            video = video.filter("fps", self.fps)  # a video clip's rate is set once, before fit
        # Cut at the clip's length, as its audio is. Without the cut, and with a second fps, FFmpeg 5.1 held up to
        # every clip's frames before the xfades (bench/composition_render.py: 938 → 500 MiB, 10 % less time).
        return video.filter("trim", end=round(placed.length, 6))

    def clip_audio(self, placed: Placement, key: str):
        source = self.sources[key]
        volume = placed.clip.volume * self.spec.audio.original_audio_volume
        if source.kind == "image" or not source.has_audio or volume == 0:
            return self.silence(placed.length)
        start, end = self.source_window(placed, key)
        audio = self.stream(key, "a").filter("atrim", start=start, end=end)
        audio = atempo_chain(audio.filter("asetpts", "PTS-STARTPTS"), placed.clip.speed)
        audio = audio.filter("aformat", sample_rates=SAMPLE_RATE, channel_layouts="stereo")
        if volume != 1:
            audio = audio.filter("volume", round(volume, 4))
        # Exactly as long as the picture, so A/V stay in sync across joins.
        return audio.filter("apad").filter("atrim", end=round(placed.length, 6))

    def timeline(self, placed: list[Placement], keys: list[str]):
        """The clips joined in order: gaps as black and silence, transitions as xfade + acrossfade."""
        video, audio, length = None, None, 0.0
        if placed[0].start > 1e-6:
            video, audio = self.black(placed[0].start)
            length = placed[0].start
        for index, clip in enumerate(placed):
            clip_v, clip_a = self.clip_video(clip, keys[index]), self.clip_audio(clip, keys[index])
            previous = placed[index - 1] if index else None
            if previous is not None and previous.transition is not None:
                duration = previous.transition.duration
                video = ffmpeg.filter(
                    [video, clip_v],
                    "xfade",
                    transition=previous.transition.type,
                    duration=duration,
                    offset=round(length - duration, 6),
                )
                audio = ffmpeg.filter([audio, clip_a], "acrossfade", d=duration)
                length += clip.length - duration
                continue
            if previous is not None and clip.start - previous.end > 1e-6:
                gap_v, gap_a = self.black(clip.start - previous.end)
                video, audio = self.join(video, audio, gap_v, gap_a)
                length += clip.start - previous.end
            video, audio = self.join(video, audio, clip_v, clip_a)
            length += clip.length
        return video, audio, length

    @staticmethod
    def join(video, audio, next_video, next_audio):
        if video is None:
            return next_video, next_audio
        joined = ffmpeg.concat(video, audio, next_video, next_audio, v=1, a=1).node
        return joined[0], joined[1]

    # --- overlays ----------------------------------------------------------------------------------------

    def position(self, overlay, width: str, height: str) -> tuple[str, str]:
        """x/y expressions for an overlay of size `width`×`height` (expressions in the filter's own terms)."""
        if overlay.x is not None:
            return f"{overlay.x}*W", f"{overlay.y}*H"
        margin = round(MARGIN * min(self.width, self.height))
        horizontal, vertical = {"left": "left", "right": "right"}, {"top": "top", "bottom": "bottom"}
        parts = overlay.position.split("-")
        h = next((horizontal[p] for p in parts if p in horizontal), "center")
        v = next((vertical[p] for p in parts if p in vertical), "center")
        x = {"left": f"{margin}", "center": f"(W-{width})/2", "right": f"W-{width}-{margin}"}[h]
        y = {"top": f"{margin}", "center": f"(H-{height})/2", "bottom": f"H-{height}-{margin}"}[v]
        return x, y

    @staticmethod
    def window(overlay, total: float) -> tuple[float, float]:
        return overlay.start_time, min(overlay.end_time or total, total)

    def alpha(self, overlay, total: float) -> str:
        start, end = self.window(overlay, total)
        fade_in, fade_out = overlay.fade_in, overlay.fade_out
        parts = []
        if fade_in:
            parts.append(f"min(1,(t-{start})/{fade_in})")
        if fade_out:
            parts.append(f"min(1,({end}-t)/{fade_out})")
        return "max(0,min(" + ",".join(parts) + "))" if len(parts) == 2 else (f"max(0,{parts[0]})" if parts else "1")

    def text(self, video, overlay: TextOverlay, number: int, total: float):
        chars = max(1, int(overlay.max_width * self.width / (0.55 * overlay.font_size)))
        lines = [line for paragraph in overlay.text.splitlines() for line in textwrap.wrap(paragraph, chars) or [""]]
        lines = [line for line in lines if line.strip()] or [overlay.text.strip()]
        line_height = round(overlay.font_size * LINE_SPACING)
        block = line_height * len(lines)
        start, end = self.window(overlay, total)
        for index, line in enumerate(lines):
            width = "text_w"
            x, y = self.position(overlay, width, str(block))
            if overlay.x is None and overlay.align != "center" and "(W-" in x:
                # Left- or right-aligned lines inside a centred block of max_width.
                left = f"(W-{overlay.max_width}*W)/2"
                x = left if overlay.align == "left" else f"{left}+{overlay.max_width}*W-text_w"
            options = {
                **drawtext_textfile(line, self.workdir / f"text-{number}-{index}.txt"),
                "font": filter_value(overlay.font),
                "fontsize": overlay.font_size,
                "fontcolor": hex_color(overlay.font_color),
                "x": x.replace("W", "w").replace("H", "h"),
                "y": f"{y.replace('W', 'w').replace('H', 'h')}+{index * line_height}",
                "enable": f"between(t,{start},{end})",
                "alpha": self.alpha(overlay, total),
            }
            if overlay.background:
                box = overlay.background
                options |= {"box": 1, "boxcolor": f"{hex_color(box.color)}@{box.opacity}", "boxborderw": box.padding}
            if overlay.stroke:
                options |= {"borderw": overlay.stroke.width, "bordercolor": hex_color(overlay.stroke.color)}
            if overlay.shadow:
                shadow = max(1, overlay.font_size // 24)
                options |= {"shadowx": shadow, "shadowy": shadow, "shadowcolor": "0x000000@0.6"}
            video = video.filter("drawtext", **options)
        return video

    def image(self, video, overlay: ImageOverlay, total: float):
        width = max(2, round(overlay.scale * self.width / 2) * 2)
        picture = self.stream(overlay.asset, "v").filter("scale", width, -2).filter("format", "rgba")
        if overlay.opacity < 1:
            picture = picture.filter("colorchannelmixer", aa=overlay.opacity)
        start, end = self.window(overlay, total)
        if overlay.fade_in:
            picture = picture.filter("fade", t="in", st=start, d=overlay.fade_in, alpha=1)
        if overlay.fade_out:
            picture = picture.filter("fade", t="out", st=end - overlay.fade_out, d=overlay.fade_out, alpha=1)
        x, y = self.position(overlay, "w", "h")
        return ffmpeg.overlay(video, picture, x=x, y=y, enable=f"between(t,{start},{end})", eof_action="pass")

    def captions(self, video, prepared: Path):
        options = {"filename": filter_path(prepared)}
        if self.spec.captions.style is not None:
            options["force_style"] = force_style(self.spec.captions.style, self.width, self.height)
        return video.filter("subtitles", **options)

    # --- audio -------------------------------------------------------------------------------------------

    def mix(self, base, total: float):
        audio = self.spec.audio
        tracks = [base]
        music = voice = None
        if audio.music:
            music = self.sources[audio.music]
            options = input_options() | ({"stream_loop": -1} if audio.music_loop else {})
            stream = ffmpeg.input(str(music.path), **options).audio
            stream = stream.filter("atrim", end=round(total, 6)).filter("asetpts", "PTS-STARTPTS")
            stream = stream.filter("aformat", sample_rates=SAMPLE_RATE, channel_layouts="stereo")
            stream = stream.filter("volume", audio.music_volume)
            if audio.fade_in:
                stream = stream.filter("afade", t="in", st=0, d=audio.fade_in)
            if audio.fade_out:
                stream = stream.filter("afade", t="out", st=max(0.0, total - audio.fade_out), d=audio.fade_out)
            music = stream
        if audio.voiceover:
            stream = self.stream(audio.voiceover, "a")
            stream = stream.filter("aformat", sample_rates=SAMPLE_RATE, channel_layouts="stereo")
            stream = stream.filter("volume", audio.voiceover_volume)
            if audio.voiceover_start:
                stream = stream.filter("adelay", delays=round(audio.voiceover_start * 1000), all=1)
            voice = stream.filter("apad").filter("atrim", end=round(total, 6))
        if music is not None and voice is not None and audio.ducking:
            # The music splits into a part the voice-over's sidechain squeezes to silence and a floor at
            # -duck_db; they add up to the music unchanged while the voice is silent.
            floor = 10 ** (-audio.duck_db / 20)
            voices, musics = voice.filter_multi_output("asplit", 2), music.filter_multi_output("asplit", 2)
            voice, key, squeezed, kept = voices[0], voices[1], musics[0], musics[1]
            squeezed = ffmpeg.filter(
                [squeezed.filter("volume", round(1 - floor, 6)), key],
                "sidechaincompress",
                threshold=0.003,
                ratio=20,
                attack=5,
                release=250,
            )
            music = ffmpeg.filter([squeezed, kept.filter("volume", round(floor, 6))], "amix", inputs=2, normalize=0)
        tracks += [track for track in (music, voice) if track is not None]
        mixed = ffmpeg.filter(tracks, "amix", inputs=len(tracks), normalize=0) if len(tracks) > 1 else base
        if audio.normalize:
            mixed = mixed.filter("loudnorm", I=audio.target_lufs, TP=-1.5, LRA=11)
            mixed = mixed.filter("aresample", SAMPLE_RATE)
        return mixed.filter("atrim", end=round(total, 6))

    # --- the command -------------------------------------------------------------------------------------

    def encoder(self) -> dict:
        out = self.spec.output
        crf, preset, vp9_crf, prores, audio_rate = QUALITY[out.quality]
        if self.preview:
            crf, preset = PREVIEW["crf"], PREVIEW["preset"]
        common = {"r": self.fps}
        if out.video_codec == "prores":
            return common | {"c:v": "prores_ks", "profile:v": prores, "pix_fmt": "yuv422p10le", "c:a": "pcm_s16le"}
        if out.video_codec == "vp9":
            speed = 8 if self.preview else 5
            return common | {
                "c:v": "libvpx-vp9", "crf": vp9_crf, "b:v": 0, "deadline": "good", "cpu-used": speed, "row-mt": 1,
                "c:a": "libopus", "b:a": audio_rate,
            }  # fmt: skip
        return common | {
            "c:v": "libx264", "crf": crf, "preset": preset, "pix_fmt": "yuv420p",
            "c:a": "aac", "b:a": audio_rate, "movflags": "+faststart",
        }  # fmt: skip

    def command(self, placed: list[Placement], keys: list[str], out: Path, captions: Path | None) -> tuple[list, float]:
        self.seek_to(placed, keys)
        for index, key in enumerate(keys):
            self.count(key, "v")
            source = self.sources[key]
            if source.kind != "image" and source.has_audio and placed[index].clip.volume:
                self.count(key, "a")
        for overlay in self.spec.overlays:
            if isinstance(overlay, ImageOverlay):
                self.count(overlay.asset, "v")
        if self.spec.audio.voiceover:
            self.count(self.spec.audio.voiceover, "a")
        video, audio, total = self.timeline(placed, keys)
        for number, overlay in enumerate(self.spec.overlays):
            if isinstance(overlay, TextOverlay):
                video = self.text(video, overlay, number, total)
            else:
                video = self.image(video, overlay, total)
        if captions is not None:
            video = self.captions(video, captions)
        audio = self.mix(audio, total)
        args = ffmpeg.output(video, audio, str(out), t=round(total, 6), **self.encoder()).get_args()
        return args, total
