"""Agents upload photos; the desk hosts them, stripped, where LINE fetches them."""

import io
import json
import os

import pytest
from PIL import Image

from api.audit import STREAM
from handoff.uploads import Encoded, UploadError, Uploads, encode
from store import key
from tests.api.conftest import AGENT_PASSWORD, panel_login
from tests.conftest import Clock

BASE = "https://desk.example"


@pytest.fixture
def public(config):
    """The desk knows where LINE reaches it."""
    config.public_url = BASE
    return config


def picture(kind="JPEG", size=(40, 20), mode="RGB", colour="red", **save) -> bytes:
    image = Image.new(mode, size, colour)
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


def send(client, headers, data: bytes, name="photo.jpg"):
    return client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def fetch(client, url: str):
    assert url.startswith(BASE + "/media/")
    return client.get(url[len(BASE) :])


def test_without_public_url_uploading_is_unavailable(client, agent, config):
    for url in ("", "http://desk.example"):
        config.public_url = url
        resp = send(client, agent, picture())

        assert resp.status_code == 409
        assert resp.json["error"] == "upload_unavailable"
        assert "PUBLIC_URL" in resp.json["message"]


def test_anonymous_callers_and_posts_without_csrf_are_refused(client, accounts, public):
    assert send(client, {}, picture()).status_code == 401

    csrf = panel_login(client, "aiko", AGENT_PASSWORD)
    refused = send(client, {}, picture())
    taken = send(client, {"X-CSRF-Token": csrf}, picture())

    assert refused.status_code == 403
    assert refused.json["error"] == "csrf_failed"
    assert taken.status_code == 201


def test_a_jpeg_is_hosted_at_the_public_address(client, agent, admin, public, runtime):
    resp = send(client, agent, picture(size=(64, 48)))

    assert resp.status_code == 201
    body = resp.json
    assert body["originalContentUrl"].endswith(".jpg")
    assert body["previewImageUrl"].endswith(".jpg")
    assert body["originalContentUrl"] != body["previewImageUrl"]
    assert "expires_at" in body
    served = fetch(client, body["originalContentUrl"])
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert Image.open(io.BytesIO(served.data)).size == (64, 48)
    # An admin may upload too.
    assert send(client, admin, picture()).status_code == 201


def test_the_upload_is_audited_without_its_bytes(client, agent, public, runtime):
    resp = send(client, agent, picture())
    media_id = resp.json["originalContentUrl"].rsplit("/", 1)[1].split(".")[0]

    entries = runtime.redis.xrange(STREAM)
    uploads = [e for _, e in entries if e["action"] == "upload.create"]

    assert len(uploads) == 1
    assert uploads[0]["actor"] == "aiko"
    assert uploads[0]["target"] == media_id
    detail = json.loads(uploads[0]["detail"])
    assert detail["bytes"] > 0
    assert len(json.dumps(uploads[0])) < 1000


def test_exif_goes_and_the_orientation_is_applied(client, agent, public):
    # Left half red, right half blue, stored sideways: EXIF orientation 6
    # says "turn 90° clockwise to show", so shown, red is on top.
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif.get_ifd(0x8825).update({1: "N", 2: (35.0, 39.0, 29.0)})  # GPS
    raw = io.BytesIO()
    image.save(raw, "JPEG", exif=exif, quality=95)
    assert b"SecretCam" in raw.getvalue()

    resp = send(client, agent, raw.getvalue())
    assert resp.status_code == 201, resp.json
    served = fetch(client, resp.json["originalContentUrl"])
    shown = Image.open(io.BytesIO(served.data))

    assert shown.size == (20, 40)
    assert not shown.getexif()
    assert b"Exif" not in served.data and b"SecretCam" not in served.data
    red, green, blue = shown.convert("RGB").getpixel((10, 5))
    assert red > 200 and blue < 60
    red, green, blue = shown.convert("RGB").getpixel((10, 35))
    assert blue > 200 and red < 60
    preview = fetch(client, resp.json["previewImageUrl"])
    assert b"SecretCam" not in preview.data


def test_a_large_photo_gets_a_small_preview(client, agent, public):
    noise = Image.frombytes("RGB", (2400, 1600), os.urandom(2400 * 1600 * 3))
    raw = io.BytesIO()
    noise.save(raw, "JPEG", quality=85)
    assert raw.tell() > 1024 * 1024

    resp = send(client, agent, raw.getvalue())
    assert resp.status_code == 201, resp.json
    original = fetch(client, resp.json["originalContentUrl"])
    preview = fetch(client, resp.json["previewImageUrl"])

    assert preview.mimetype == "image/jpeg"
    assert len(preview.data) <= 1024 * 1024
    assert len(preview.data) < len(original.data)
    assert max(Image.open(io.BytesIO(preview.data)).size) <= 1024
    assert Image.open(io.BytesIO(original.data)).size == (2400, 1600)


def test_a_png_stays_png(client, agent, public):
    resp = send(client, agent, picture("PNG", mode="RGBA", colour=(0, 0, 255, 128)))

    assert resp.status_code == 201
    assert resp.json["originalContentUrl"].endswith(".png")
    served = fetch(client, resp.json["originalContentUrl"])
    assert served.mimetype == "image/png"
    shown = Image.open(io.BytesIO(served.data))
    assert shown.format == "PNG" and shown.mode == "RGBA"
    assert fetch(client, resp.json["previewImageUrl"]).mimetype == "image/jpeg"
    # The address names its type: the same id as .jpg is nothing.
    wrong = resp.json["originalContentUrl"][: -len("png")] + "jpg"
    assert fetch(client, wrong).status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        b"just some text, not a picture",
        picture("GIF"),
        picture("WEBP"),
        picture("BMP"),
    ],
    ids=["text", "gif", "webp", "bmp"],
)
def test_other_types_are_refused(client, agent, public, data):
    resp = send(client, agent, data)

    assert resp.status_code == 415
    assert resp.json["error"] == "unsupported_type"
    assert "JPEG and PNG" in resp.json["message"]


def test_a_broken_image_is_refused(client, agent, public):
    whole = picture(size=(200, 200))

    resp = send(client, agent, whole[: len(whole) // 2])

    assert resp.status_code == 422
    assert resp.json["error"] == "invalid_image"


def test_a_decompression_bomb_is_refused(client, agent, public):
    # 9500 × 9500 one-bit pixels: a few kilobytes that decode to 90 million
    # pixels, over Pillow's limit.
    bomb = picture("PNG", size=(9500, 9500), mode="1", colour=0)
    assert len(bomb) < 1024 * 1024
    assert 9500 * 9500 > Image.MAX_IMAGE_PIXELS

    resp = send(client, agent, bomb)

    assert resp.status_code == 422
    assert resp.json["error"] == "too_many_pixels"


def test_more_than_ten_megabytes_is_refused(client, agent, public):
    big = picture() + b"\0" * (10 * 1024 * 1024)

    resp = send(client, agent, big)

    assert resp.status_code == 413
    assert resp.json["error"] == "upload_too_large"


def test_a_missing_file_is_named(client, agent, public):
    resp = client.post("/api/v1/uploads", data={}, headers=agent)

    assert resp.status_code == 422
    assert resp.json["field"] == "file"


def test_a_full_store_refuses_and_keeps_what_it_has(client, agent, public, config):
    first = send(client, agent, picture())
    assert first.status_code == 201
    config.upload_store_bytes = 1  # already over: the next one cannot fit

    second = send(client, agent, picture())

    assert second.status_code == 507
    assert second.json["error"] == "upload_store_full"
    assert "UPLOAD_STORE_BYTES" in second.json["message"]
    assert fetch(client, first.json["originalContentUrl"]).status_code == 200
    assert fetch(client, first.json["previewImageUrl"]).status_code == 200


def test_images_are_kept_for_the_ttl_setting(client, agent, admin, public, runtime):
    resp = send(client, agent, picture())
    media_id = resp.json["originalContentUrl"].rsplit("/", 1)[1].split(".")[0]
    ttl = runtime.redis.ttl(key("upload", media_id))

    assert 30 * 86400 - 60 < ttl <= 30 * 86400
    served = fetch(client, resp.json["originalContentUrl"])
    max_age = int(served.headers["Cache-Control"].split("max-age=")[1])
    assert served.headers["Cache-Control"].startswith("public")
    assert 0 < max_age <= ttl

    put = client.put("/api/v1/settings", json={"upload_ttl_days": 2}, headers=admin)
    assert put.status_code == 200, put.json
    later = send(client, agent, picture())
    later_id = later.json["originalContentUrl"].rsplit("/", 1)[1].split(".")[0]
    assert 2 * 86400 - 60 < runtime.redis.ttl(key("upload", later_id)) <= 2 * 86400


@pytest.mark.parametrize(
    "path",
    [
        "/media/AAAAAAAAAAAAAAAAAAAAAA.jpg",
        "/media/../settings.jpg",
        "/media/short.png",
        "/media/AAAAAAAAAAAAAAAAAAAAAA.gif",
    ],
)
def test_unknown_media_is_not_found(client, path):
    assert client.get(path).status_code == 404


def test_lapsed_uploads_free_the_budget(runtime):
    clock = Clock(1_800_000_000.0)
    one = Encoded(b"x" * 600, "image/jpeg", "jpg", b"p" * 100)
    store = Uploads(runtime.web_queue.connection, budget=1000, clock=clock)
    store.put(one, ttl_seconds=60)

    with pytest.raises(UploadError) as full:
        store.put(one, ttl_seconds=60)
    clock.advance(61)
    stored = store.put(one, ttl_seconds=60)

    assert full.value.status == 507
    assert stored.size == 700


def test_encode_refuses_what_is_not_jpeg_or_png():
    with pytest.raises(UploadError) as refused:
        encode(picture("GIF"))

    assert refused.value.status == 415


def test_the_environment_sets_the_public_url_and_the_store_size():
    from config import Config, ConfigError

    env = {"TSUNAGI_ENV": "development", "PUBLIC_URL": "https://desk.example/"}
    cfg = Config.from_env({**env, "UPLOAD_STORE_BYTES": "1000"}, dotenv=False)

    assert cfg.public_url == "https://desk.example"
    assert cfg.upload_store_bytes == 1000
    assert Config.from_env(env, dotenv=False).upload_store_bytes == 256 * 1024 * 1024
    with pytest.raises(ConfigError, match="UPLOAD_STORE_BYTES"):
        Config.from_env({**env, "UPLOAD_STORE_BYTES": "-1"}, dotenv=False)


def _noise(kind: str, size: tuple[int, int], **save) -> bytes:
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, kind, **save)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_an_image_larger_once_re_encoded_is_made_to_fit(monkeypatch, kind):
    from handoff import uploads

    data = (
        _noise(kind, (300, 300), quality=60)
        if kind == "JPEG"
        else _noise(kind, (300, 300))
    )
    # LINE's limit scaled down with the picture: the file that came in fits,
    # the first re-encoding (JPEG at quality 90, or PNG as is) does not.
    monkeypatch.setattr(uploads, "ORIGINAL_MAX_BYTES", int(len(data) * 0.9))

    encoded = encode(data)

    assert len(encoded.original) <= uploads.ORIGINAL_MAX_BYTES
    assert Image.open(io.BytesIO(encoded.original)).format == kind


def test_noise_that_never_fits_is_refused_with_413(monkeypatch):
    from handoff import uploads

    monkeypatch.setattr(uploads, "ORIGINAL_MAX_BYTES", 100)
    with pytest.raises(UploadError) as refused:
        encode(_noise("PNG", (200, 200)))

    assert refused.value.status == 413


def test_a_cmyk_jpeg_is_stored_as_rgb():
    encoded = encode(picture("JPEG", mode="CMYK", colour=(0, 255, 255, 0)))

    stored = Image.open(io.BytesIO(encoded.original))
    assert stored.mode == "RGB"
    red, green, blue = stored.getpixel((5, 5))
    assert red > 200 and green < 60 and blue < 60
