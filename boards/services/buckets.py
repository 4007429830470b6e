"""Importing images from an S3-compatible bucket: connecting one, and the worker's import.

``connect_bucket`` checks the address and the credentials (it lists one object) and stores the
credentials encrypted. ``start_bucket_import`` queues a task; the worker lists the bucket's
image objects under the prefix, skips every object (key and ETag) an earlier import handled, and
takes the rest ``BUCKET_IMPORT_CHUNK`` at a time: it fetches them and hands them to
``upload_images``, which verifies, orients and thumbnails each one and stores it as an upload
would (a broken object is rejected with its reason and the rest land; a picture the project
already has is a duplicate, never a second image). Each step records the objects it handled, so
a worker killed half way resumes where the last step ended, and an object is never imported
twice. The images join one new Unassigned batch (a further one past 25,000 images).
"""

from __future__ import annotations

import ipaddress
import posixpath
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from accounts.models import User
from boards.models import BatchSource, BucketObject, BucketSource, Project
from boards.models.background import OPEN_STATUSES, BackgroundTask, TaskKind, TaskStatus
from boards.services.background import RUNNERS, _beat, _end, _queue
from boards.services.uploads import upload_images
from core import encryption
from core.errors import InvalidInput, WrongState
from core.permissions import require

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
SHOWN_REJECTIONS = 50
ONLY_MANAGERS = "Only the project's managers and owners may connect buckets and import from them."


class BucketRefused(InvalidInput):
    """The bucket could not be reached or listed with what was given."""


def _client(*, endpoint_url: str, region: str, access_key: str, secret_key: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "virtual"},
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3},
            max_pool_connections=FETCHERS,
        ),
    )


def source_client(source: BucketSource):
    return _client(
        endpoint_url=source.endpoint_url,
        region=source.region,
        access_key=encryption.decrypt(source.access_key),
        secret_key=encryption.decrypt(source.secret_key),
    )


MAX_ENDPOINT = 300


def _check_endpoint(endpoint_url: str) -> str:
    """The endpoint, if it is an http(s) URL of a host on public addresses only (or private ones
    are allowed). Checked when a bucket is connected and again before each import runs.

    The check is of the addresses the name has now; a name whose owner makes it answer otherwise
    later (DNS rebinding) needs the network to refuse it too: where that matters, give the
    workers an egress proxy or firewall that keeps them out of private ranges."""
    if not endpoint_url:
        return ""
    invalid = InvalidInput("The endpoint is an http:// or https:// address, like https://minio.example.com.")
    if len(endpoint_url) > MAX_ENDPOINT:
        raise InvalidInput(f"The endpoint is at most {MAX_ENDPOINT} characters.")
    try:
        parts = urlsplit(endpoint_url)
        port = parts.port
    except ValueError:
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise invalid
    if settings.BUCKET_PRIVATE_ENDPOINTS:
        return endpoint_url.rstrip("/")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port or 443)}
    except (socket.gaierror, UnicodeError, OSError):
        raise InvalidInput(f"The endpoint's host “{parts.hostname}” cannot be found.") from None
    for address in addresses:
        if not _public(ipaddress.ip_address(address.split("%")[0])):
            raise InvalidInput(
                f"The endpoint's host is on a private address ({address}): this server does not reach into "
                "its own network unless its administrator allows it (BUCKET_PRIVATE_ENDPOINTS)."
            )
    return endpoint_url.rstrip("/")


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(ip) -> bool:
    """A global address, and, for an IPv6 one that carries an IPv4 address (mapped, 6to4, Teredo,
    NAT64), a global IPv4 address too."""
    if not ip.is_global:
        return False
    if ip.version == 6:
        carried = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in NAT64:
            carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(inner is None or inner.is_global for inner in carried)
    return True


def connect_bucket(
    *,
    project: Project,
    actor: User,
    name: str,
    bucket: str,
    access_key: str,
    secret_key: str,
    endpoint_url: str = "",
    region: str = "",
    prefix: str = "",
) -> BucketSource:
    """Connect a bucket (and prefix) to the project, once its credentials have listed it."""
    require(actor, "boards.manage_project", project, message=ONLY_MANAGERS)
    name, bucket, prefix = name.strip(), bucket.strip(), prefix.strip().lstrip("/")
    access_key, secret_key, region = access_key.strip(), secret_key.strip(), region.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Give the bucket a name of up to 100 characters, to tell it apart.")
    if not (3 <= len(bucket) <= 63) or "/" in bucket:
        raise InvalidInput("A bucket's name is 3 to 63 characters, without “/” (put folders in the prefix).")
    if not access_key or not secret_key or len(access_key) > 256 or len(secret_key) > 256:
        raise InvalidInput("Give the access key and the secret key the bucket's owner gave you.")
    if len(prefix) > 500 or len(region) > 50:
        raise InvalidInput("The prefix is at most 500 characters and the region 50.")
    endpoint_url = _check_endpoint(endpoint_url.strip())
    if BucketSource.objects.filter(project=project, name=name).exists():
        raise InvalidInput(f"This project already has a bucket named “{name}”.")
    client = _client(endpoint_url=endpoint_url, region=region, access_key=access_key, secret_key=secret_key)
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except Exception as exc:  # botocore's errors: wrong keys, no such bucket, unreachable
        raise BucketRefused(f"The bucket could not be listed with these details: {_why(exc)}") from None
    try:
        with transaction.atomic():
            return BucketSource.objects.create(
                project=project,
                name=name,
                endpoint_url=endpoint_url,
                region=region,
                bucket=bucket,
                prefix=prefix,
                access_key=encryption.encrypt(access_key),
                secret_key=encryption.encrypt(secret_key),
                key_hint=access_key[-4:],
                created_by=actor,
            )
    except IntegrityError:
        raise InvalidInput(f"This project already has a bucket named “{name}”.") from None


def _why(exc: Exception) -> str:
    """The store's own reason (its error code and message) when an S3 server answered; otherwise
    only that nothing S3-like answered, naming no connection detail."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        error = response["Error"]
        return f"{error['Code']} ({(error.get('Message') or 'no message')[:200]})"
    return "no S3 service answered at that address"


def remove_bucket(*, source: BucketSource, actor: User) -> None:
    """Forget a bucket and its credentials (the images it gave stay)."""
    require(actor, "boards.manage_project", source.project, message=ONLY_MANAGERS)
    if _importing(source):
        raise WrongState("An import from this bucket is waiting or running; cancel it first.")
    source.delete()


def _importing(source: BucketSource) -> bool:
    """Whether an import from the bucket is waiting or running."""
    return BackgroundTask.objects.filter(
        kind=TaskKind.BUCKET, params__source=source.pk, status__in=OPEN_STATUSES
    ).exists()


def start_bucket_import(*, source: BucketSource, actor: User, batch_name: str = "") -> BackgroundTask:
    require(actor, "boards.manage_project", source.project, message=ONLY_MANAGERS)
    name = (batch_name.strip() or f"{source.name} import")[:200]

    def one_at_a_time() -> None:  # under the project's lock, with the room check
        if not BucketSource.objects.filter(pk=source.pk).exists():
            raise WrongState("This bucket was removed meanwhile.")
        if _importing(source):
            raise WrongState("An import from this bucket is already waiting or running.")

    return _queue(
        project=source.project,
        actor=actor,
        kind=TaskKind.BUCKET,
        params={"source": source.pk, "source_name": source.name, "batch_name": name, "batch": None},
        check=one_at_a_time,
    )


def _listing(client, source: BucketSource):
    """Every image object under the prefix: (key, etag, size); and how many other objects there were."""
    found, others = [], 0
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=source.bucket, Prefix=source.prefix)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/"):
                continue
            if posixpath.splitext(key)[1].lower() in IMAGE_EXTENSIONS:
                found.append((key, item.get("ETag", "").strip('"'), item.get("Size", 0)))
            else:
                others += 1
    return found, others


FETCHERS = 8  # objects of a step fetched at once: the time goes in waiting on the store, not the CPU


def _fetch(client, source: BucketSource, key: str, size: int) -> tuple[UploadedFile | None, str]:
    """The object as an uploaded file, or None and why not: too large (by its listing, then by what
    the store says as it answers), gone since it was listed, or refused.

    Read a piece at a time and kept as Django keeps a browser's upload: in memory up to
    ``FILE_UPLOAD_MAX_MEMORY_SIZE``, in a temporary file beyond (unnamed: gone once closed, or
    when the worker dies), so a step of large objects does not hold them all in memory, even from a
    store that does not say their length. The caller closes it.
    """
    limit = settings.MAX_UPLOAD_FILE_BYTES
    if size > limit:
        return None, f"Larger than {limit:,} bytes."
    try:
        answer = client.get_object(Bucket=source.bucket, Key=key)
        body = answer["Body"]
        if answer.get("ContentLength", 0) > limit:
            body.close()
            return None, f"Larger than {limit:,} bytes."
        spooled = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the caller closes it, after its step
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR or None
        )
        try:
            written = 0  # past the limit by one byte at most: the upload then refuses it as too large
            while written <= limit and (piece := body.read(min(READ_PIECE, limit + 1 - written))):
                spooled.write(piece)
                written += len(piece)
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return UploadedFile(spooled, name=posixpath.basename(key), size=written), ""
    except Exception as exc:  # botocore: NoSuchKey, AccessDenied, a key it cannot decrypt, a timeout
        return None, f"Could not be read: {_why(exc)}."


READ_PIECE = 1024 * 1024


def _run_bucket_import(task: BackgroundTask) -> None:
    params = task.params
    source = BucketSource.objects.filter(pk=params["source"], project=task.project).first()
    if source is None:
        raise WrongState("The bucket was disconnected before its import ran.")
    _check_endpoint(source.endpoint_url)  # its name may point elsewhere since it was connected
    client = source_client(source)
    try:
        listed, others = _listing(client, source)
    except Exception as exc:
        raise BucketRefused(f"The bucket could not be listed: {_why(exc)}") from None
    handled = set(BucketObject.objects.filter(source=source).values_list("key", "etag"))
    todo = [item for item in listed if (item[0], item[1]) not in handled]
    done = len(listed) - len(todo)
    report = params.get("counts") or {"landed": 0, "duplicate": 0, "rejected": 0, "handled_before": done}
    report |= {"objects": len(listed), "not_images": others}  # handled_before: as this task first found it
    _beat(task, done, total=len(listed), report=report)
    batch = task.project.batches.filter(pk=params["batch"]).first() if params.get("batch") else None
    step = max(1, settings.BUCKET_IMPORT_CHUNK)
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        files, records = [], []
        with ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="bucket-fetch") as pool:
            fetched = list(pool.map(lambda item: _fetch(client, source, item[0], item[2]), chunk))
        for (key, etag, size), (upload, why) in zip(chunk, fetched, strict=True):
            if upload is None:
                records.append(
                    BucketObject(source=source, key=key, etag=etag, size=size, outcome="rejected", reason=why)
                )
                continue
            files.append(upload)
            records.append(BucketObject(source=source, key=key, etag=etag, size=size, outcome="pending"))
        try:
            batch, done = _store_step(task, params, report, records, files, batch, done + len(chunk))
        finally:
            for upload in files:  # a temporary file goes with it
                upload.close()
    report["batch"] = params["batch"]
    _end(task, TaskStatus.DONE, report=report, done=len(listed))


def _store_step(task: BackgroundTask, params: dict, report: dict, records, files, batch, done: int):
    """Store a step's fetched objects and record how each went; the batch the next step goes on
    with, and how many objects are done (``done``, this step's included)."""
    pending = [r for r in records if r.outcome == "pending"]
    # The step's images, the objects it handled and where the task stands commit together: a
    # worker killed in between leaves the step undone (its stored files go to cleanup_files).
    with transaction.atomic():
        if files:
            result = upload_images(
                project=task.project,
                actor=task.started_by,
                files=files,
                batch_name=params["batch_name"],
                source=BatchSource.BUCKET,
                into=batch,
                or_new_batch=True,  # full, or someone moved it on: the rest go to a new batch
            )
            batch = result.batch or batch
            for record, outcome in zip(pending, result.files, strict=True):
                record.outcome, record.reason, record.image_id = outcome.status, outcome.reason, outcome.image_id
        for record in records:
            report[record.outcome] = report.get(record.outcome, 0) + 1
            if record.outcome == "rejected" and len(report.setdefault("rejections", [])) < SHOWN_REJECTIONS:
                report["rejections"].append({"key": record.key, "reason": record.reason})
        params["batch"] = batch.pk if batch is not None else None
        params["counts"] = report
        BucketObject.objects.bulk_create(records, ignore_conflicts=True)
        # The step's progress, only while this run owns the task: one cancelled or given up on
        # (``Cancelled``) rolls the step back, as the import's own finish does.
        _beat(task, done, report=report, params=params)
    return batch, done


RUNNERS[TaskKind.BUCKET] = _run_bucket_import
