"""Photo storage on an S3-compatible object store, against a real local S3 server.

moto's server speaks S3 over HTTP on a local port (a real server, not a patched
client): ``S3Storage`` keeps the storage contract there, and the app configured with
``PHOTO_S3_BUCKET`` takes, keeps and serves photos from the bucket with nothing written
under ``var/photos``.
"""

from __future__ import annotations

import io
import json
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import text

from photos.storage import S3Storage, stores
from tests import photo_images as im
from tests.ingestion_fixtures import *  # noqa: F403 - the fixtures
from tests.ingestion_fixtures import good_submission
from tests.integration.test_photos_api import _approve

BUCKET = "carte-photos"


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_s3_storage_keeps_the_storage_contract(bucket, s3_endpoint):
    store = S3Storage(BUCKET, "public/", endpoint_url=s3_endpoint)
    key = "b" * 64 + ".jpg"
    assert not store.exists(key) and store.get(key) is None
    store.put(key, b"first")
    store.put(key, b"second")
    assert store.exists(key) and store.get(key) == b"second"
    head = bucket.head_object(Bucket=BUCKET, Key=f"public/{key}")
    assert head["ContentType"] == "image/jpeg"
    store.delete(key)
    store.delete(key)  # absent: nothing happens
    assert not store.exists(key)
    with pytest.raises(ValueError):
        store.put("../quarantine/x", b"x")


def test_the_app_keeps_and_serves_photos_from_the_bucket(bucket, s3_endpoint, ingest_app,
                                                         api, engine):
    ingest_app.config.update(PHOTO_S3_BUCKET=BUCKET, PHOTO_S3_ENDPOINT=s3_endpoint)
    public, quarantine = stores(ingest_app.config)
    assert isinstance(public, S3Storage) and isinstance(quarantine, S3Storage)
    camera = im.camera_jpeg(800, 600)
    answer = api.post("/api/v1/submissions", data={
        "submission": (io.BytesIO(json.dumps(good_submission()).encode()), "s.json",
                       "application/json"),
        "photos": [(io.BytesIO(camera), "a.jpg"), (io.BytesIO(im.svg()), "b.svg")]},
        content_type="multipart/form-data")
    assert answer.status_code == 422  # the SVG is refused, the rest kept
    _approve(engine, answer.get_json()["submission_id"])
    with engine.connect() as conn:
        display, thumb, sha = conn.execute(text(
            "SELECT display_key, thumb_key, original_sha256 FROM photo "
            "WHERE status = 'ready'")).one()
    names = sorted(o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert f"quarantine/{sha}.orig" in names
    assert {f"public/{display}", f"public/{thumb}"} <= set(names)
    assert not [n for n in names if n.startswith("public/") and n.endswith(".orig")]
    served = api.get(f"/photos/{display}")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.data == bucket.get_object(Bucket=BUCKET,
                                            Key=f"public/{display}")["Body"].read()
    assert not (ingest_app.config["VAR_DIR"] / "photos").exists()
