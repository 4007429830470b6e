"""Answers shaped as Roboflow's REST API shapes them (our own fields beside theirs, never instead)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.urls import reverse

from boards.models import Image, Project
from boards.openapi import JOB_STATUS


def _timestamp(at: datetime) -> dict:
    return {"_seconds": int(at.timestamp()), "_nanoseconds": at.microsecond * 1000}


def _epoch(at: datetime) -> float:
    return round(at.timestamp(), 3)


def project_dict(project: Project, stats: dict) -> dict:
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


def batch_dict(row: tuple) -> dict:
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


def job_dict(row: dict, project: Project) -> dict:
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


def _box(a) -> dict:
    # Roboflow's x and y are the box's centre.
    return {
        "label": a.label.name,
        "x": a.x + a.width / 2,
        "y": a.y + a.height / 2,
        "width": a.width,
        "height": a.height,
    }


def _image_urls(request: HttpRequest, project: Project, image: Image) -> dict:
    args = [project.workspace.slug, project.slug, image.pk]
    return {
        kind: request.build_absolute_uri(reverse("api-image-file", args=[*args, kind]))
        for kind in ("original", "thumb")
    }


def image_dict(request: HttpRequest, project: Project, image: Image, boxes: list, tags: list[str]) -> dict:
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
    }
