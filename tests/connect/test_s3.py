"""The S3 connector against moto's S3 server on 127.0.0.1 (the real S3 wire protocol)."""

from __future__ import annotations

import boto3
import pytest
from contract import ConnectorContract
from helpers import SYSTEM, docs, sync
from moto.server import ThreadedMotoServer

from tether.connect.base import ConnectorContext
from tether.connect.s3 import S3Config, S3Connector
from tether.errors import CredentialsRejected

SECRETS = {"S3_KEY_ID": "testing", "S3_SECRET": "testing"}


@pytest.fixture(scope="module")
def s3_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_url, request) -> str:
    name = f"b-{abs(hash(request.node.name)) % 10**8}"
    client = _client(s3_url)
    client.create_bucket(Bucket=name)
    return name


def _client(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _config(url: str, bucket: str, **kw) -> dict:
    return {"bucket": bucket, "endpoint_url": url, "access_key_id_env": "S3_KEY_ID",
            "secret_access_key_env": "S3_SECRET", **kw}


def _connector(url: str, bucket: str, secrets=SECRETS, **kw) -> S3Connector:
    return S3Connector.create(S3Config(**_config(url, bucket, acl=["public"], **kw)),
                              ConnectorContext(secrets, "/tmp", 1_000_000))


class S3Source:
    def __init__(self, url: str, bucket: str) -> None:
        self.url, self.bucket, self.client = url, bucket, _client(url)
        self.change("a.txt", "alpha: the office opens at nine.")
        self.change("b.md", "# Beta\n\nbeta: the canteen closes at two.")

    def connector(self) -> S3Connector:
        return _connector(self.url, self.bucket, prefix="docs/")

    def change(self, name: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"docs/{name}", Body=text.encode())

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"docs/{name}")

    def item_id(self, name: str) -> str:
        return f"docs/{name}"


class TestS3Contract(ConnectorContract):
    @pytest.fixture
    def source(self, s3_url, bucket) -> S3Source:
        return S3Source(s3_url, bucket)

    @pytest.fixture
    def unreachable(self) -> S3Connector:
        return _connector("http://127.0.0.1:9", "nowhere")  # nothing listens on the discard port


def test_missing_credentials_are_a_typed_error(s3_url, bucket) -> None:
    with pytest.raises(CredentialsRejected, match="S3_SECRET"):
        _connector(s3_url, bucket, secrets={"S3_KEY_ID": "testing"})


def test_etag_incremental_sync_with_tag_and_prefix_acls(engine, s3_url, bucket) -> None:
    engine.secrets = SECRETS
    engine.connectors.secrets = SECRETS
    client = _client(s3_url)
    engine.accounts.add_group(SYSTEM, "hr")
    client.put_object(Bucket=bucket, Key="hr/bands.md", Body=b"# Bands\n\nL4 midpoint is 61k.")
    client.put_object(Bucket=bucket, Key="all/lunch.md", Body=b"# Lunch\n\nLunch is at noon.",
                      Tagging="tether-acl=public")
    client.put_object(Bucket=bucket, Key="misc/x.txt", Body=b"untagged, unmapped", Tagging="other=1")
    engine.connectors.add(SYSTEM, "tagged", "s3", collection="s3",
                          config=_config(s3_url, bucket, acl_from="tags", acl=["group:hr"]))
    run = sync(engine, "tagged")
    assert (run["added"], run["failed"]) == (3, 0)
    acl = {u: d["acl"] for u, d in docs(engine, "s3").items()}
    assert acl["connector://tagged/all/lunch.md"] == ["public"]
    assert acl["connector://tagged/hr/bands.md"] != ["public"]  # the fallback: group:hr

    client.put_object_tagging(Bucket=bucket, Key="hr/bands.md",
                              Tagging={"TagSet": [{"Key": "tether-acl", "Value": "public"}]})
    client.put_object(Bucket=bucket, Key="all/lunch.md", Body=b"# Lunch\n\nLunch is at one.")  # new ETag
    client.delete_object(Bucket=bucket, Key="misc/x.txt")
    run = sync(engine, "tagged")
    assert (run["updated"], run["deleted"], run["unchanged"]) == (2, 1, 0)
    held = docs(engine, "s3")
    assert held["connector://tagged/hr/bands.md"]["acl"] == ["public"]  # the tag change re-permissioned it
    assert held["connector://tagged/all/lunch.md"]["version"] == 2
    assert sync(engine, "tagged")["unchanged"] == 2

    engine.connectors.add(SYSTEM, "prefixed", "s3", collection="s3p",
                          config=_config(s3_url, bucket, acl_from="prefix", prefix_acl={"hr/": ["group:hr"]}))
    run = sync(engine, "prefixed")
    assert run["added"] == 1  # all/lunch.md matches no prefix: nobody may read it, not ingested
    assert list(docs(engine, "s3p")) == ["connector://prefixed/hr/bands.md"]


def test_refused_credentials_fail_the_run_with_a_typed_error(engine, s3_url, bucket) -> None:
    engine.connectors.secrets = {}
    engine.connectors.add(SYSTEM, "nokeys", "s3", config=_config(s3_url, bucket, acl=["public"]))
    run = sync(engine, "nokeys")
    assert run["status"] == "failed" and run["error"]["code"] == "credentials_rejected"
    assert engine.connectors.show(SYSTEM, "nokeys")["last_error"]["code"] == "credentials_rejected"
