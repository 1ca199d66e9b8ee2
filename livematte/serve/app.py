"""The HTTP API (Starlette, served by uvicorn): ``POST /remove`` and ``GET /health``.

``POST /remove``: the image as the raw body, or as the first file of a ``multipart/form-data``
body; options as query parameters (:mod:`.params`); the reply is the picture (``format``, PNG by
default) with its report as compact JSON in the ``X-Livematte-Report`` header. Nothing is ever
fetched from a URL. Errors are ``text/plain`` one-liners: 400 a bad option or image, 422 nothing
to cut out (no person, no object model installed, no plain backdrop), 413 a body
over ``max_body`` bytes or an image over ``max_pixels`` (read from the header, before any
decoding: a decompression bomb costs nothing), 415 a format whose size the header does not give,
503 every worker busy, 504 past the request timeout.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..colors import parse_color
from ..sinks.images import encode_image
from ..sources.images import header_size, load_image_bytes
from ..stills.subject import NothingFound
from ..types import LivematteError
from .params import FORMATS, options_from_query
from .pool import Busy, JobPool, TimedOut


@dataclass(frozen=True)
class Limits:
    """Request limits: body bytes, pixels (width x height from the header), seconds per request."""

    max_body: int = 32 << 20
    max_pixels: int = 40_000_000
    timeout: float = 30.0


class TooLarge(Exception):
    """The body passed :attr:`Limits.max_body`."""


class BodyLimit:
    """ASGI middleware: a request whose body passes ``max_body`` bytes gets a 413 at once (by its
    Content-Length, or while it streams)."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, int(max_body)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _too_large(self.max_body)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except TooLarge:
            await _too_large(self.max_body)(scope, receive, send)


def _too_large(max_body: int) -> Response:
    return PlainTextResponse(f"the body is larger than the {max_body} byte limit\n", status_code=413)


async def _image_bytes(request: Request) -> bytes:
    """The image in the request: the first file of a multipart form, else the raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=16)
        for value in form.values():
            if hasattr(value, "read"):
                return await value.read()
        raise LivematteError("the form holds no file")
    return await request.body()


def build_app(pool: JobPool, limits: Limits = Limits()) -> BodyLimit:
    """The ASGI application over ``pool`` (its jobs share one config)."""

    async def health(request: Request) -> Response:
        job = pool.jobs[0]
        return JSONResponse({"status": "ok", "model": job.cfg.model.name, "engine": job.matter.engine.name,
                             "workers": pool.workers, "busy": pool.busy, "waiting": pool.waiting})

    async def remove(request: Request) -> Response:
        try:
            options, fmt = options_from_query(dict(request.query_params))
            data = await _image_bytes(request)
            if not data:
                raise LivematteError("the request holds no image (send it as the body or as a form file)")
            size = header_size(data)
            if size is None:
                return PlainTextResponse("unsupported image format: send PNG, JPEG, WebP or GIF\n", status_code=415)
            if size[0] * size[1] > limits.max_pixels:
                return PlainTextResponse(f"{size[0]}x{size[1]} is over the {limits.max_pixels}-pixel limit\n",
                                         status_code=413)

            def work(job):
                image = load_image_bytes(data, "the request's image")  # (H, W, 3)
                result = job.run(image, fmt, options=options)
                body = encode_image(fmt, result.picture, flatten_color=parse_color(job.cfg.effect.flatten))
                return body, result.report

            body, report = await pool.run(work)
        except NothingFound as err:  # a good request, but nothing to cut out
            return PlainTextResponse(f"{err}\n", status_code=422)
        except LivematteError as err:
            return PlainTextResponse(f"{err}\n", status_code=400)
        except Busy as err:
            return PlainTextResponse(f"busy: {err}\n", status_code=503, headers={"Retry-After": "1"})
        except TimedOut as err:
            return PlainTextResponse(f"{err}\n", status_code=504)
        headers = {"X-Livematte-Report": json.dumps(report, separators=(",", ":"))}
        return Response(body, media_type=FORMATS[fmt], headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        pool.close()

    app = Starlette(routes=[Route("/health", health, methods=["GET"]), Route("/remove", remove, methods=["POST"])],
                    lifespan=lifespan)
    return BodyLimit(app, limits.max_body)
