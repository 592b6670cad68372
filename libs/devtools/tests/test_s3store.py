"""contact_devtools.broker.S3Store: the local S3 server honours what tansu's store relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from contact_devtools.broker import S3Store


@pytest.fixture(scope="module")
def s3(s3_store: S3Store) -> Any:
    """A client signing as tansu does, with the store's credentials."""
    env = s3_store.broker_env
    return boto3.client(
        "s3",
        endpoint_url=s3_store.endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


@pytest.fixture(scope="module")
def s3_store() -> Iterator[S3Store]:
    store = S3Store().start()
    try:
        yield store
    finally:
        store.stop()


def _refused(call: Any, **args: Any) -> int:
    with pytest.raises(ClientError) as refused:
        call(**args)
    status: int = refused.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return status


def test_a_put_with_a_stale_etag_is_refused(s3: Any, s3_store: S3Store) -> None:
    # tansu moves a partition's watermark by compare-and-swap (If-Match): were a stale ETag
    # accepted, two producers to one partition would write the same offset, one batch lost.
    bucket = s3_store.bucket
    first = s3.put_object(Bucket=bucket, Key="watermark", Body=b"offset 1")["ETag"]
    second = s3.put_object(Bucket=bucket, Key="watermark", Body=b"offset 2", IfMatch=first)["ETag"]
    assert second != first
    stale = {"Bucket": bucket, "Key": "watermark", "Body": b"offset 2 again", "IfMatch": first}
    assert _refused(s3.put_object, **stale) == 412
    taken = {"Bucket": bucket, "Key": "watermark", "Body": b"new", "IfNoneMatch": "*"}
    assert _refused(s3.put_object, **taken) == 412
    assert s3.get_object(Bucket=bucket, Key="watermark")["Body"].read() == b"offset 2"
