"""Catalog roots in object stores (s3://bucket/prefix) next to local folders.

Two clients, each for what it does best (docs/storage.md):
- data: the engine's DuckDB with its httpfs extension reads Parquet (footers
  and only the column chunks a query needs) and writes Parquet leaves; the
  C++ catalog layer reads properties and listings through it too;
- control: s3fs (botocore) for what DuckDB cannot do — server-side copies,
  deletes, multipart-upload clean-up — and for small metadata objects.

Both take their settings the AWS way (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
/ AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE and ~/.aws files, AWS_ENDPOINT_URL
for S3-compatible servers) plus LODESTAR_S3_URL_STYLE (vhost | path) and
LODESTAR_S3_RETRIES.

Publishing a catalog on S3 (there is no rename): everything is written under
`<root>/.lodestar-staging/<name>-<id>/`, which no listing shows; then each
object is copied server-side to `<root>/<name>/`, data first and
`hats.properties` / `collection.properties` last — a catalog is visible only
once its properties object exists — and the staging prefix is deleted. A
failure at any step deletes what was written and aborts pending multipart
uploads under the staging prefix.
"""

from __future__ import annotations

import io
import os
import posixpath
import threading
import uuid

from . import _core

STAGING_DIR = ".lodestar-staging"
PROPERTIES_FILES = ("hats.properties", "properties")  # published after the data...
COLLECTION_FILE = "collection.properties"  # ...and this one last of all


def is_remote(path) -> bool:
    return isinstance(path, str) and path.startswith("s3://")


def join(base, *parts: str) -> str:
    base = os.fspath(base)
    if is_remote(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(base, *parts)


def parent(path) -> str:
    path = os.fspath(path)
    if is_remote(path):
        return path.rstrip("/").rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(path))


def normalize(path) -> str:
    """A catalog path as the engine wants it: URLs as given (no trailing
    slash), local paths absolute."""
    path = os.fspath(path)
    return path.rstrip("/") if is_remote(path) else os.path.abspath(path)


def _settings_key() -> tuple:
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "LODESTAR_S3_URL_STYLE", "LODESTAR_S3_RETRIES",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")
    return tuple(os.environ.get(n) for n in names)


_fs_lock = threading.Lock()
_fs_cache: dict[tuple, object] = {}


def filesystem():
    """The s3fs filesystem for the current AWS settings (one per settings)."""
    import s3fs

    key = _settings_key()
    with _fs_lock:
        fs = _fs_cache.get(key)
        if fs is None:
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
            style = os.environ.get("LODESTAR_S3_URL_STYLE") or ("path" if endpoint else "virtual")
            retries = int(os.environ.get("LODESTAR_S3_RETRIES") or 8)
            fs = s3fs.S3FileSystem(
                anon=False,
                endpoint_url=endpoint,
                client_kwargs={"region_name": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None},
                config_kwargs={
                    "s3": {"addressing_style": "virtual" if style == "vhost" else style},
                    # botocore's standard mode retries 5xx, throttling (SlowDown) and dropped connections with backoff.
                    "retries": {"max_attempts": retries + 1, "mode": "standard"},
                    "connect_timeout": 10,
                    "read_timeout": 60,
                },
                skip_instance_cache=True,
                use_listings_cache=False,
            )
            _fs_cache[key] = fs
        return fs


def _strip(url: str) -> str:
    return url[len("s3://"):] if url.startswith("s3://") else url


def _url(key: str) -> str:
    return "s3://" + key


def _clear_error(exc: BaseException, what: str) -> Exception:
    """A LodestarError naming the object and the likely cause."""
    text = f"{type(exc).__name__}: {exc}"
    hint = ""
    if isinstance(exc, PermissionError) or "AccessDenied" in text or "SignatureDoesNotMatch" in text or "InvalidAccessKeyId" in text:
        hint = " (access denied: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile)"
    elif "NoSuchBucket" in text:
        hint = " (the bucket does not exist)"
    return _core.LodestarError(f"cannot {what}: {text}{hint}")


def exists(url: str) -> bool:
    try:
        return filesystem().exists(_strip(url))
    except Exception as exc:  # noqa: BLE001 - reported with context
        raise _clear_error(exc, f"check {url}") from exc


def catalog_exists(url: str) -> bool:
    """Whether a published catalog or collection is at `url` (its properties object)."""
    return any(exists(join(url, f)) for f in (*PROPERTIES_FILES, COLLECTION_FILE))


def list_files(url: str) -> list[str]:
    """Every object URL under the prefix `url` (recursively)."""
    try:
        return sorted(_url(k) for k in filesystem().find(_strip(url).rstrip("/") + "/"))
    except FileNotFoundError:
        return []
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"list {url}") from exc


def write_bytes(url: str, data: bytes) -> None:
    try:
        filesystem().pipe_file(_strip(url), data)
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"write {url}") from exc


def read_bytes(url: str) -> bytes:
    try:
        return filesystem().cat_file(_strip(url))
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"read {url}") from exc


def open_file(url: str, mode: str = "rb"):
    return filesystem().open(_strip(url), mode)


def remove_tree(url: str) -> None:
    """Delete every object under the prefix (properties first, so a catalog
    stops being visible before any of its data goes)."""
    files = list_files(url)
    first = [f for f in files if posixpath.basename(f) in (*PROPERTIES_FILES, COLLECTION_FILE)]
    rest = [f for f in files if f not in first]
    try:
        for group in (first, rest):
            if group:
                filesystem().rm([_strip(f) for f in group])
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"delete {url}") from exc
    _core.forget_catalog(url)


def abort_multipart_uploads(url: str) -> int:
    """Abort unfinished multipart uploads under the prefix; returns how many."""
    fs = filesystem()
    bucket, _, prefix = _strip(url).partition("/")
    aborted = 0
    try:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = fs.call_s3("list_multipart_uploads", **kwargs)
            for up in page.get("Uploads", []):
                fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
                aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            kwargs.update(KeyMarker=page.get("NextKeyMarker"), UploadIdMarker=page.get("NextUploadIdMarker"))
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"clean up multipart uploads under {url}") from exc


def staging_prefix(root: str, name: str) -> str:
    return join(root, STAGING_DIR, f"{name}-{os.getpid()}-{uuid.uuid4().hex[:12]}")


def remove_stale_staging(root: str, older_than_s: float = 86_400.0) -> int:
    """Delete staging prefixes of writes that died (killed processes leave
    them; they are invisible but take space): those whose newest object is
    older than `older_than_s`. Best effort; returns how many were removed.
    Writers call it with the default day, far beyond any live upload's pauses."""
    import datetime

    base = join(root, STAGING_DIR)
    removed = 0
    try:
        entries = filesystem().find(_strip(base).rstrip("/") + "/", detail=True)
    except Exception:  # noqa: BLE001 - nothing to clean, or no access: never fail a write for this
        return 0
    newest: dict[str, float] = {}
    for key, info in entries.items():
        rest = key[len(_strip(base).rstrip("/")) + 1:]
        prefix = rest.split("/", 1)[0]
        modified = info.get("LastModified")
        stamp = modified.timestamp() if isinstance(modified, datetime.datetime) else 0.0
        newest[prefix] = max(newest.get(prefix, 0.0), stamp)
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    for prefix, stamp in newest.items():
        if now - stamp >= older_than_s:
            discard_staging(join(base, prefix))
            removed += 1
    return removed


def discard_staging(staging: str) -> None:
    """Best-effort removal of a staging prefix and its unfinished uploads
    (called on failure paths: must not hide the original error)."""
    for step in (lambda: abort_multipart_uploads(staging), lambda: remove_tree(staging)):
        try:
            step()
        except Exception:  # noqa: BLE001
            pass


def upload_tree(local_dir: str, url: str) -> None:
    """Upload a local folder's files under the prefix `url`."""
    try:
        filesystem().put(local_dir.rstrip("/") + "/", _strip(url).rstrip("/") + "/", recursive=True)
    except Exception as exc:  # noqa: BLE001
        raise _clear_error(exc, f"upload {local_dir} to {url}") from exc


def publish(staged: str, target: str, overwrite: bool) -> None:
    """Make the catalog (or collection) staged under `staged` appear at
    `target`: server-side copies, properties last, then the staging removed.
    An existing catalog at `target` is replaced only with overwrite."""
    if catalog_exists(target):
        if not overwrite:
            raise _core.LodestarError(f"catalog {posixpath.basename(target)!r} already exists in {parent(target)}; "
                                      "choose another name or pass overwrite to replace it")
    # Also clears an invisible, half-published catalog left by a killed publish.
    remove_tree(target)
    files = list_files(staged)
    rel = [f[len(staged.rstrip("/")) + 1:] for f in files]
    order = sorted(range(len(rel)), key=lambda i: (posixpath.basename(rel[i]) == COLLECTION_FILE,
                                                  posixpath.basename(rel[i]) in PROPERTIES_FILES, rel[i]))
    fs = filesystem()
    data = [i for i in order if posixpath.basename(rel[i]) not in (*PROPERTIES_FILES, COLLECTION_FILE)]
    last = [i for i in order if i not in data]
    try:
        if data:
            fs.copy([_strip(files[i]) for i in data], [_strip(join(target, rel[i])) for i in data])
        for i in last:  # one by one, in order: the catalog appears with the last copy
            fs.copy(_strip(files[i]), _strip(join(target, rel[i])))
    except Exception as exc:  # noqa: BLE001
        try:
            remove_tree(target)
        finally:
            raise _clear_error(exc, f"publish {target}") from exc
    remove_tree(staged)
    _core.forget_catalog(target)


def write_parquet_table(table, url: str, row_group_size: int) -> None:
    """A pyarrow Table as one Parquet object (the engine's format), written through s3fs."""
    import pyarrow.parquet as pq

    from .parquet_format import pyarrow_write_kwargs

    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=row_group_size, **pyarrow_write_kwargs(table.schema))
    write_bytes(url, buf.getvalue())
