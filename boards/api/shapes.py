"""Answers shaped as Roboflow's REST API shapes them (our own fields beside theirs, never instead)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.http import HttpRequest
from django.urls import reverse

from boards.api.openapi import JOB_STATUS
from boards.models import Dataset, Image, Project


class Timestamp(TypedDict):
    """A Firestore-style timestamp, as Roboflow sends it."""

    _seconds: int
    _nanoseconds: int


class ProjectShape(TypedDict):
    id: str
    type: str
    name: str
    created: float
    updated: float
    images: int
    unannotated: int
    annotation: str
    versions: int
    public: bool
    splits: dict[str, int]
    classes: dict[str, int]
    colors: dict[str, str]
    reviewMode: bool


class DatasetShape(TypedDict):
    """Batchboard: a dataset of the workspace catalog (Roboflow has none of this kind)."""

    id: str
    name: str
    images: int
    created: float


class BatchShape(TypedDict):
    name: str
    numJobs: int
    images: int
    uploaded: Timestamp
    id: str
    status: str
    priority: int


class JobShape(TypedDict):
    id: str
    name: str
    status: str
    numImages: int
    annotated: int
    unannotated: int
    approved: int
    rejected: int
    labeler: str | None  # None: the label queue
    reviewer: str | None
    sourceBatch: str
    created: Timestamp
    createdBy: str | None
    project: str
    instructionsText: str
    batch: str
    batchStatus: str


class BoxShape(TypedDict):
    """A box in pixels with x and y at its centre, as in Roboflow."""

    label: str
    x: float
    y: float
    width: float
    height: float


class ImageAnnotation(TypedDict):
    width: int
    height: int
    boxes: list[BoxShape]


class ImageUrls(TypedDict):
    original: str
    thumb: str


class ImageShape(TypedDict):
    id: str
    name: str
    annotation: ImageAnnotation
    labels: list[str]
    split: str
    tags: list[str]
    created: float
    urls: ImageUrls
    status: str
    batch: str | None
    asset: str  # Batchboard: the workspace catalog's image this is, shared by every project that uses it


def _timestamp(at: datetime) -> Timestamp:
    return {"_seconds": int(at.timestamp()), "_nanoseconds": at.microsecond * 1000}


def _epoch(at: datetime) -> float:
    return round(at.timestamp(), 3)


def project_dict(project: Project, stats: dict) -> ProjectShape:
    return {
        "id": f"{project.workspace.slug}/{project.slug}",
        "type": "object-detection",
        "name": project.name,
        "created": _epoch(project.created_at),
        "updated": _epoch(project.updated_at),
        "images": stats["images"],
        "unannotated": stats["unannotated"],
        "annotation": project.slug,
        "versions": 0,
        "public": False,
        "splits": stats["splits"],
        "classes": stats["classes"],
        "colors": stats["colors"],
        "reviewMode": project.review_mode,
    }


def dataset_dict(dataset: Dataset) -> DatasetShape:
    """A dataset of ``selectors.api_datasets`` (with its ``n_images``)."""
    return {
        "id": str(dataset.pk),
        "name": dataset.name,
        "images": dataset.n_images,
        "created": _epoch(dataset.created_at),
    }


def batch_dict(row: tuple) -> BatchShape:
    """A row of ``selectors.api_batches`` as Roboflow's batch object, with our status and priority."""
    pk, name, uploaded, status, priority, images, jobs = row
    return {
        "name": name,
        "numJobs": jobs,
        "images": images,
        "uploaded": {"_seconds": int(uploaded.timestamp()), "_nanoseconds": uploaded.microsecond * 1000},
        "id": str(pk),
        "status": status,
        "priority": priority,
    }


def job_dict(row: dict, project: Project) -> JobShape:
    return {
        "id": str(row["pk"]),
        "name": row["name"] or row["batch__name"],
        "status": JOB_STATUS.get(row["state"], row["state"]),
        "numImages": row["num_images"],
        "annotated": row["num_images"] - row["n_unannotated"],
        "unannotated": row["n_unannotated"],
        "approved": row["n_approved"],
        "rejected": row["n_rejected"],
        "labeler": row["labeler__email"],
        "reviewer": row["reviewer__email"],
        "sourceBatch": f"{project.slug}/{row['batch_id']}",
        "created": _timestamp(row["created_at"]),
        "createdBy": row["created_by__email"],
        "project": f"{project.workspace.slug}/{project.slug}",
        "instructionsText": "",
        "batch": str(row["batch_id"]),
        "batchStatus": row["batch__status"],
    }


def _box(a) -> BoxShape:
    # Roboflow's x and y are the box's centre.
    return {
        "label": a.label.name,
        "x": a.x + a.width / 2,
        "y": a.y + a.height / 2,
        "width": a.width,
        "height": a.height,
    }


def _image_urls(request: HttpRequest, project: Project, image: Image) -> ImageUrls:
    args = [project.workspace.slug, project.slug, image.pk]

    def url(kind: str) -> str:
        return request.build_absolute_uri(reverse("api-image-file", args=[*args, kind]))

    return {"original": url("original"), "thumb": url("thumb")}


def image_dict(request: HttpRequest, project: Project, image: Image, boxes: list, tags: list[str]) -> ImageShape:
    return {
        "id": str(image.pk),
        "name": image.original_filename,
        "annotation": {"width": image.width, "height": image.height, "boxes": [_box(a) for a in boxes]},
        "labels": sorted({a.label.name for a in boxes}),
        "split": image.split,
        "tags": tags,
        "created": _epoch(image.uploaded_at),
        "urls": _image_urls(request, project, image),
        "status": image.state,
        "batch": str(image.batch_id) if image.batch_id else None,
        "asset": str(image.asset_id),
    }
