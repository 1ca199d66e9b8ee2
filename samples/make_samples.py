"""Regenerate the demo samples: ``samples/person.mp4`` and ``samples/background.jpg``.

Run with ``make samples`` (or ``.venv/bin/python samples/make_samples.py``). Needs numpy, opencv,
PyAV and scikit-image; the output is deterministic for a given set of library versions.

* ``person.mp4``: 4 s, 1280x720, 30 fps, H.264 (yuv420p) + AAC stereo 48 kHz. The astronaut Eileen
  Collins (``skimage.data.astronaut()``, NASA, public domain), cut out of her portrait with GrabCut,
  moves left and right in front of a procedurally drawn room and walks towards the camera and back
  (her height in the frame goes from 62 % to 94 % and back). The sound is a C-F-G-C chord progression.
* ``background.jpg``: 1280x720, the SpaceX DSCOVR launch photo (``skimage.data.rocket()``, public
  domain), scaled to cover 16:9 and centre-cropped.

See ``samples/README.md`` for provenance and licences.
"""
from __future__ import annotations

import math
import os
import sys
from fractions import Fraction

import av
import cv2
import numpy as np
import skimage.data

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 30, 4
SAMPLE_RATE = 48000
CHORDS_HZ = (  # one chord per second: C major, F major, G major, C major
    (261.63, 329.63, 392.00),
    (349.23, 440.00, 523.25),
    (392.00, 493.88, 587.33),
    (261.63, 329.63, 523.25),
)


def cut_out_astronaut() -> tuple[np.ndarray, np.ndarray]:
    """Cut the astronaut (head and shoulders) out of her portrait.

    Returns:
        rgb: uint8 ``(340, 512, 3)``, the top 340 rows of ``skimage.data.astronaut()``.
        alpha: float32 ``(340, 512)`` in [0, 1], soft-edged person mask.
    """
    rgb = np.ascontiguousarray(skimage.data.astronaut()[:340])  # (340, 512, 3); below: a helmet
    h, w = rgb.shape[:2]
    # GrabCut seeded with hand-placed hints; the seed makes its k-means start reproducible.
    cv2.setRNGSeed(0)
    mask = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    cv2.rectangle(mask, (20, 10), (365, h - 1), cv2.GC_PR_FGD, -1)
    cv2.ellipse(mask, (225, 95), (55, 70), 0, 0, 360, cv2.GC_FGD, -1)  # face and hair
    cv2.rectangle(mask, (130, 230), (280, h - 1), cv2.GC_FGD, -1)  # suit and collar ring
    cv2.rectangle(mask, (0, 0), (w - 1, 8), cv2.GC_BGD, -1)  # studio backdrop, top
    cv2.rectangle(mask, (368, 0), (w - 1, h - 1), cv2.GC_BGD, -1)  # shuttle model, right
    cv2.rectangle(mask, (0, 0), (60, 190), cv2.GC_BGD, -1)  # flag, top left
    cv2.fillPoly(mask, [np.array([(0, 190), (52, 190), (8, h - 1), (0, h - 1)], np.int32)], cv2.GC_BGD)
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(rgb[..., ::-1].copy(), mask, None, bgd_model, fgd_model, 8, cv2.GC_INIT_WITH_MASK)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)  # (H, W) 0/1

    # Keep the largest connected region and fill its holes (specks of backdrop, gaps in the suit).
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    fg = (labels == largest).astype(np.uint8)
    inverse = (1 - fg).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    for label in range(1, count):
        x, y, bw, bh, _area = stats[label]
        touches_edge = x == 0 or y == 0 or x + bw == w  # the bottom edge is the frame cut
        if not touches_edge:
            fg[labels == label] = 1
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(fg.astype(np.float32), (0, 0), 1.2)  # soft, hair-like edges
    alpha[-3:] = fg[-3:]  # keep the bottom cut hard: the person continues below the frame
    return rgb, np.clip(alpha, 0.0, 1.0)


def draw_room() -> np.ndarray:
    """A procedurally drawn room: wall, window with sky, bookshelf, lamp. RGB uint8 ``(720, 1280, 3)``."""
    rng = np.random.default_rng(7)
    y = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]  # (H, 1, 1)
    top, bottom = np.array([222, 210, 188], np.float32), np.array([176, 160, 138], np.float32)
    room = np.broadcast_to(top * (1 - y) + bottom * y, (HEIGHT, WIDTH, 3)).copy()  # (H, W, 3) RGB
    # Window on the left: sky gradient, a few clouds, a frame with a cross bar.
    x0, y0, x1, y1 = 70, 90, 430, 470
    sky_y = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
    room[y0:y1, x0:x1] = np.array([110, 160, 225], np.float32) * (1 - sky_y) + np.array([190, 215, 240], np.float32) * sky_y
    clouds = np.zeros((HEIGHT, WIDTH), np.float32)
    for _ in range(6):
        cx, cy = int(rng.integers(x0 + 30, x1 - 30)), int(rng.integers(y0 + 30, y0 + 200))
        cv2.ellipse(clouds, (cx, cy), (int(rng.integers(40, 90)), int(rng.integers(14, 28))), 0, 0, 360, 1.0, -1)
    clouds = cv2.GaussianBlur(clouds, (0, 0), 9)[y0:y1, x0:x1, None]
    room[y0:y1, x0:x1] = room[y0:y1, x0:x1] * (1 - 0.8 * clouds) + 250 * 0.8 * clouds
    frame_rgb = (245, 243, 236)
    cv2.rectangle(room, (x0, y0), (x1, y1), frame_rgb, 14)
    cv2.line(room, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), frame_rgb, 10)
    cv2.line(room, (x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2), frame_rgb, 10)
    # Bookshelf on the right: three shelves of books of random colours and heights.
    sx0, sx1 = 900, 1230
    cv2.rectangle(room, (sx0 - 12, 120), (sx1 + 12, HEIGHT), (120, 84, 52), -1)
    for shelf_y in (250, 400, 550):
        x = sx0
        while x < sx1 - 12:
            bw = int(rng.integers(14, 34))
            bh = int(rng.integers(90, 128))
            colour = tuple(int(c) for c in rng.integers(40, 220, 3))
            cv2.rectangle(room, (x, shelf_y - bh), (min(x + bw, sx1), shelf_y), colour, -1)
            x += bw + int(rng.integers(1, 4))
        cv2.rectangle(room, (sx0 - 12, shelf_y), (sx1 + 12, shelf_y + 14), (96, 66, 40), -1)
    # Floor lamp between window and shelf.
    cv2.line(room, (800, 230), (800, HEIGHT), (60, 60, 64), 8)
    cv2.ellipse(room, (800, 220), (70, 45), 0, 180, 360, (250, 236, 200), -1)
    glow = np.zeros((HEIGHT, WIDTH), np.float32)
    cv2.circle(glow, (800, 240), 140, 1.0, -1)
    glow = cv2.GaussianBlur(glow, (0, 0), 60)[..., None]
    room = room + glow * np.array([40, 30, 10], np.float32)
    # A little depth of field: the room is behind the person.
    room = cv2.GaussianBlur(room, (0, 0), 2.0)
    return np.clip(room + 0.5, 0, 255).astype(np.uint8)


def person_pose(i: int, frames: int) -> tuple[float, float]:
    """Where the person is at frame ``i``: (centre x in pixels, height in pixels). Bottom stays at the frame edge."""
    t = i / frames
    centre_x = WIDTH / 2 + 260 * math.sin(2 * math.pi * t)  # left-right sway, one full period
    height = HEIGHT * (0.62 + 0.32 * math.sin(math.pi * t) ** 2)  # walks towards the camera and back
    return centre_x, height


def composite_frame(room: np.ndarray, person: np.ndarray, alpha: np.ndarray, i: int, frames: int) -> np.ndarray:
    """Frame ``i``: the cut-out person warped onto the room. RGB uint8 ``(720, 1280, 3)``."""
    ph, pw = alpha.shape
    centre_x, height = person_pose(i, frames)
    scale = height / ph
    # Person-centre column in the source (the face is at x~225 of 512) maps to centre_x.
    tx = centre_x - 225 * scale
    ty = HEIGHT - ph * scale + 1.0  # bottom cut sits just below the frame edge
    m = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
    fg = cv2.warpAffine(person, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]  # (H, W, 1)
    out = fg.astype(np.float32) * a + room.astype(np.float32) * (1 - a)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def chord_audio() -> np.ndarray:
    """The soundtrack: float32 ``(2, SECONDS * SAMPLE_RATE)`` planar stereo in [-1, 1]."""
    n = SECONDS * SAMPLE_RATE
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    out = np.zeros(n, np.float64)
    per_chord = SAMPLE_RATE
    for k, chord in enumerate(CHORDS_HZ):
        seg = slice(k * per_chord, (k + 1) * per_chord)
        local = t[seg] - k
        envelope = np.minimum(1.0, local / 0.03) * np.exp(-1.8 * local)  # pluck: fast attack, decay
        for f in chord:
            out[seg] += envelope * (np.sin(2 * math.pi * f * t[seg]) + 0.3 * np.sin(4 * math.pi * f * t[seg]))
    out *= 0.25 / np.max(np.abs(out))
    out[-480:] *= np.linspace(1.0, 0.0, 480)  # no click at the end
    left = out
    right = np.roll(out, 240)  # 5 ms offset: a little width
    return np.stack([left, right]).astype(np.float32)


def write_video(path: str, room: np.ndarray, person: np.ndarray, alpha: np.ndarray) -> int:
    """Encode the clip to ``path`` (H.264 + AAC in MP4). Returns the number of video frames."""
    frames = SECONDS * FPS
    tmp = path + ".tmp.mp4"
    with av.open(tmp, "w", container_options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "21", "preset": "medium", "profile": "high", "threads": "1"}
        video.codec_context.time_base = Fraction(1, FPS)
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        audio.bit_rate = 96000
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(composite_frame(room, person, alpha, i, frames), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode())
        samples = chord_audio()
        chunk = 1024
        for start in range(0, samples.shape[1], chunk):
            block = np.ascontiguousarray(samples[:, start:start + chunk])
            aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            aframe.sample_rate = SAMPLE_RATE
            aframe.pts = start
            container.mux(audio.encode(aframe))
        container.mux(audio.encode())
    os.replace(tmp, path)
    return frames


def write_background(path: str) -> None:
    """Scale the rocket photo to cover 1280x720, centre-crop, save as JPEG quality 90."""
    rocket = skimage.data.rocket()  # (427, 640, 3) RGB
    h, w = rocket.shape[:2]
    scale = max(WIDTH / w, HEIGHT / h)
    big = cv2.resize(rocket, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    y0 = (big.shape[0] - HEIGHT) // 2
    x0 = (big.shape[1] - WIDTH) // 2
    crop = big[y0:y0 + HEIGHT, x0:x0 + WIDTH]
    ok, data = cv2.imencode(".jpg", crop[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    tmp = path + ".tmp.jpg"
    data.tofile(tmp)
    os.replace(tmp, path)


def main(out_dir: str = HERE) -> int:
    person, alpha = cut_out_astronaut()
    room = draw_room()
    frames = write_video(os.path.join(out_dir, "person.mp4"), room, person, alpha)
    write_background(os.path.join(out_dir, "background.jpg"))
    for name in ("person.mp4", "background.jpg"):
        size = os.path.getsize(os.path.join(out_dir, name))
        sys.stdout.write(f"{name}: {size / 1e6:.2f} MB\n")
    sys.stdout.write(f"person.mp4: {frames} frames, {WIDTH}x{HEIGHT} @ {FPS} fps\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else HERE))
