"""The S3 connector: a bucket (and prefix) of any S3-compatible store (AWS S3, MinIO, Ceph...).

Items are objects under ``prefix``; an object's version is its ETag, so an unchanged object
is never downloaded again. Permissions, by ``acl_from``:

- ``fixed``: ``acl`` for every object;
- ``prefix``: the longest matching key prefix of ``prefix_acl`` (``{"hr/": ["group:hr"]}``),
  else ``acl``; objects matching nothing are not readable (revoked);
- ``tags``: the object tag ``tag_key`` (default ``tether-acl``), entries separated by spaces
  (``group:hr user:ana``), else ``acl``. Tags are read per object at each listing, so a tag
  change re-permissions the document at the next sync (a slower listing).

Credentials come from ``access_key_id_env`` / ``secret_access_key_env`` (or ``*_file``), else
boto3's own chain. Errors at the boundary become ``SourceUnreachable`` (no endpoint, no bucket)
or ``CredentialsRejected`` (invalid, expired or refused keys).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from tether.connect.base import CommonConfig, ConnectorContext, Item, ItemRef, Listing, secret
from tether.errors import ConnectorError, CredentialsRejected, SourceUnreachable

_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AccessDenied",
                     "InvalidToken", "TokenRefreshRequired", "403"}
_MISSING_CODES = {"NoSuchBucket", "404", "NoSuchKey"}


class S3Config(CommonConfig):
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id_env: str | None = None
    access_key_id_file: str | None = None
    secret_access_key_env: str | None = None
    secret_access_key_file: str | None = None
    acl_from: Literal["fixed", "prefix", "tags"] = "fixed"
    acl: list[str] = []
    prefix_acl: dict[str, list[str]] = {}
    tag_key: str = "tether-acl"
    page_size: int = 1000


def translate(exc: BaseException, where: str) -> ConnectorError:
    """A boto error as Tether's (the message names the bucket, never a key or secret)."""
    import botocore.exceptions as bex

    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError)):
        return SourceUnreachable(f"{where}: the S3 endpoint cannot be reached")
    if isinstance(exc, (bex.NoCredentialsError, bex.PartialCredentialsError)):
        return CredentialsRejected(f"{where}: no S3 credentials were found")
    if isinstance(exc, bex.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _CREDENTIAL_CODES:
            return CredentialsRejected(f"{where}: the S3 credentials were refused ({code})")
        if code in _MISSING_CODES:
            return SourceUnreachable(f"{where}: not found ({code})")
        return ConnectorError(f"{where}: S3 error {code}")
    return ConnectorError(f"{where}: {type(exc).__name__}")


class S3Connector:
    kind: ClassVar[str] = "s3"
    Config = S3Config

    def __init__(self, config: S3Config, client: Any) -> None:
        self.config = config
        self.client = client

    @classmethod
    def create(cls, config: S3Config, ctx: ConnectorContext) -> S3Connector:
        import boto3
        from botocore.config import Config as BotoConfig

        key_id = secret(ctx, env=config.access_key_id_env, file=config.access_key_id_file, what="S3 access key id")
        key = secret(ctx, env=config.secret_access_key_env, file=config.secret_access_key_file,
                     what="S3 secret access key")
        client = boto3.session.Session().client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region, aws_access_key_id=key_id,
            aws_secret_access_key=key,
            config=BotoConfig(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}))
        return cls(config, client)

    def _acl(self, key: str) -> tuple[str, ...]:
        cfg = self.config
        if cfg.acl_from == "prefix":
            matches = [p for p in cfg.prefix_acl if key.startswith(p)]
            return tuple(sorted(cfg.prefix_acl[max(matches, key=len)] if matches else []))
        if cfg.acl_from == "tags":
            try:
                tags = self.client.get_object_tagging(Bucket=cfg.bucket, Key=key)["TagSet"]
            except Exception as exc:
                raise translate(exc, f"bucket {cfg.bucket}") from exc
            value = next((t["Value"] for t in tags if t["Key"] == cfg.tag_key), None)
            if value is not None:
                return tuple(sorted(value.split()))
        return tuple(sorted(cfg.acl))

    def list(self, cursor: str | None) -> Listing:
        cfg = self.config
        refs = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=cfg.bucket, Prefix=cfg.prefix, PaginationConfig={"PageSize": cfg.page_size})
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue  # a folder marker
                    refs.append(ItemRef(key, str(obj["ETag"]).strip('"'), self._acl(key), size=int(obj["Size"])))
        except ConnectorError:
            raise
        except Exception as exc:
            raise translate(exc, f"bucket {cfg.bucket}") from exc
        return Listing(refs, complete=True)

    def fetch(self, ref: ItemRef) -> Item:
        try:
            obj = self.client.get_object(Bucket=self.config.bucket, Key=ref.external_id)
            data = obj["Body"].read()
        except Exception as exc:
            raise translate(exc, f"bucket {self.config.bucket}") from exc
        return Item(ref, data, ref.external_id.rsplit("/", 1)[-1], metadata={"etag": ref.version})

    def close(self) -> None:
        self.client.close()
