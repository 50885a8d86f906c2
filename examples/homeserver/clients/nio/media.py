"""The media flow of the example homeserver's tests, with matrix-nio.

Usage: media.py UPLOAD_HOMESERVER_URL DOWNLOAD_HOMESERVER_URL

A user of the first server uploads a PNG (made here, 600x400, left half
red, right half blue) with a file name; a user of the second server
downloads it and two thumbnails of it through their own server, which
fetches them from the first over federation. Prints "ok" and exits 0
when every step checked out; anything else is a failure with the reason
on stderr.
"""

import asyncio
import io
import secrets
import struct
import sys
import zlib

from nio import (AsyncClient, DownloadResponse, LoginResponse, RegisterResponse,
                 ResizingMethod, ThumbnailResponse, UploadResponse)


def check(resp, kind, what):
    if not isinstance(resp, kind):
        raise SystemExit(f"{what}: unexpected answer {resp!r}")
    return resp


def png(width, height):
    """A PNG of width x height, left half red, right half blue."""
    row = b"".join(b"\xff\x00\x00" if x < width // 2 else b"\x00\x00\xff" for x in range(width))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"thumbnail is not a PNG: {data[:16]!r}")
    return struct.unpack(">II", data[16:24])


async def user(url, name):
    c = AsyncClient(url, name)
    check(await c.register(name, "secret-" + name, "nio-register"), RegisterResponse, "register " + name)
    await c.close()
    c = AsyncClient(url, name)
    check(await c.login("secret-" + name, device_name="nio-media"), LoginResponse, "login " + name)
    return c


async def main(url_a, url_b):
    suffix = secrets.token_hex(3)
    alice = await user(url_a, "alice" + suffix)
    bob = await user(url_b, "bob" + suffix)
    try:
        image = png(600, 400)
        resp, _ = await alice.upload(io.BytesIO(image), content_type="image/png",
                                     filename="pixels.png", filesize=len(image))
        uri = check(resp, UploadResponse, "upload").content_uri
        server, media_id = uri[len("mxc://"):].split("/", 1)
        if not uri.startswith("mxc://") or server != alice.user_id.split(":", 1)[1]:
            raise SystemExit(f"upload: content URI {uri} is not of the uploader's server")

        got = check(await bob.download(mxc=uri), DownloadResponse, "download over federation")
        if got.body != image or got.content_type != "image/png" or got.filename != "pixels.png":
            raise SystemExit(f"download: {len(got.body)} bytes of {got.content_type}, name {got.filename!r}")

        for (w, h, method, want) in [(32, 32, ResizingMethod.crop, (32, 32)),
                                     (320, 240, ResizingMethod.scale, (320, 213))]:
            th = check(await bob.thumbnail(server, media_id, w, h, method), ThumbnailResponse,
                       f"thumbnail {w}x{h} {method}")
            size = png_size(th.body)
            if size != want or th.content_type != "image/png":
                raise SystemExit(f"thumbnail {w}x{h} {method}: {size} {th.content_type}, want {want}")
    finally:
        await alice.close()
        await bob.close()
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
