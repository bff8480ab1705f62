"""Videos with known text, QR codes and barcodes drawn in, for the ocr and codes pipelines.

Each video is a run of scenes, ``FRAMES_PER_SCENE`` identical frames each, so a job with
``frame_stride=FRAMES_PER_SCENE`` sees every scene once. Each scene records what was drawn
and where, for the tests to compare with what comes back.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import barcode
import numpy as np
import segno
from barcode.writer import ImageWriter
from PIL import Image, ImageDraw, ImageFont

from tests.videos import FFMPEG

WIDTH, HEIGHT = 1280, 720
FRAMES_PER_SCENE = 3
PLATE = "KX-4821-B"
SENTENCE = "Deliveries arrive before noon"
QR_TEXT = "https://example.com/parcel/42"
EAN_13 = "5901234123457"

Box = tuple[int, int, int, int]


@dataclass
class Scene:
    """One frame's picture and what was drawn on it: text or code, with its box in pixels."""

    image: Image.Image
    drawn: dict[str, Box] = field(default_factory=dict)


def background(busy: bool, seed: int = 0) -> Image.Image:
    """A plain wall, or a busy one: coloured blotches like foliage or a cluttered shelf."""
    if not busy:
        return Image.new("RGB", (WIDTH, HEIGHT), (196, 204, 212))
    rng = np.random.default_rng(seed)
    blotches = rng.integers(0, 256, (HEIGHT // 24, WIDTH // 24, 3), dtype=np.uint8)
    return Image.fromarray(blotches).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_scene(busy: bool, seed: int = 0) -> Scene:
    """A licence-plate-like string on a white plate and a sentence written on the scene."""
    scene = Scene(background(busy, seed))
    draw = ImageDraw.Draw(scene.image)
    plate_font, plate_at = _font(64), (160 + 300 * busy, 130)
    left, top, right, bottom = draw.textbbox(plate_at, PLATE, font=plate_font)
    draw.rectangle((left - 30, top - 22, right + 30, bottom + 22), fill="white", outline="black")
    draw.text(plate_at, PLATE, font=plate_font, fill="black")
    scene.drawn[PLATE] = (left, top, right, bottom)
    sentence_font, sentence_at = _font(44), (120, 470 - 80 * busy)
    ink, width = ("white", 3) if busy else ("black", 0)
    draw.text(
        sentence_at, SENTENCE, font=sentence_font, fill=ink, stroke_width=width, stroke_fill="black"
    )
    bbox = draw.textbbox(sentence_at, SENTENCE, font=sentence_font, stroke_width=width)
    scene.drawn[SENTENCE] = bbox
    return scene


def _qr_image(scale: int) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(QR_TEXT, error="m").save(buffer, kind="png", scale=scale, border=4)
    return Image.open(buffer).convert("RGB")


def _ean_image(module_width_mm: float) -> Image.Image:
    buffer = io.BytesIO()
    options = {"module_width": module_width_mm, "module_height": 12.0, "write_text": False}
    barcode.get("ean13", EAN_13, writer=ImageWriter()).write(buffer, options=options)
    return Image.open(buffer).convert("RGB")


def codes_scene(qr: bool, ean: bool, busy: bool = False) -> Scene:
    """A QR code and/or an EAN-13 barcode pasted on a wall, as on a parcel or a shelf."""
    scene = Scene(background(busy, seed=7))
    if qr:
        image = _qr_image(scale=6)
        scene.image.paste(image, (140, 160))
        scene.drawn[QR_TEXT] = (140, 160, 140 + image.width, 160 + image.height)
    if ean:
        image = _ean_image(module_width_mm=0.4)
        at = (620, 260)
        scene.image.paste(image, at)
        scene.drawn[EAN_13] = (*at, at[0] + image.width, at[1] + image.height)
    return scene


def write_scenes(path: Path, scenes: list[Scene], fps: int = 10) -> Path:
    """Encode the scenes as camera-like H.264 (crf 23), FRAMES_PER_SCENE frames each."""
    frames = np.stack([np.asarray(s.image, dtype=np.uint8) for s in scenes])
    frames = np.repeat(frames, FRAMES_PER_SCENE, axis=0)
    source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(fps)]
    codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *source, "-i", "-", *codec]
    subprocess.run([*command, str(path)], input=frames.tobytes(), check=True)
    return path
