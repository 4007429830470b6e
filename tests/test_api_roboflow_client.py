"""The official roboflow Python client, unchanged, against a live Batchboard.

The client runs in a subprocess with API_URL set before it is imported (it
reads the variable at import). Every HTTP request it makes is checked to go to
that URL: anything else fails the run instead of reaching for the internet.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from boards.models import Batch, Image, Job
from tests.api_support import voc
from tests.factories import jpeg_bytes

pytest.importorskip("roboflow", reason="the roboflow client is a test dependency (requirements-dev.txt)")

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = textwrap.dedent(
    """
    import json, os, sys

    import requests

    api_url = os.environ["API_URL"]
    send = requests.Session.request
    calls = []

    def only_batchboard(self, method, url, *args, **kwargs):
        if not url.startswith(api_url + "/"):
            raise RuntimeError(f"the client tried to reach {url} outside Batchboard")
        calls.append(f"{method} {url.split('?')[0][len(api_url):]}")
        kwargs.setdefault("timeout", 30)
        return send(self, method, url, *args, **kwargs)

    requests.Session.request = only_batchboard

    import roboflow

    paths = json.loads(sys.argv[1])
    rf = roboflow.Roboflow(api_key=os.environ["KEY"])
    workspace = rf.workspace()
    project = workspace.project("parcels")
    uploaded = project.upload(paths["first"], batch_name="From the client", tag_names=["client"])
    single = project.single_upload(
        image_path=paths["second"], annotation_path=paths["xml"], batch_name="From the client"
    )
    again = project.single_upload(image_path=paths["second"], annotation_path=paths["xml"])
    batches = project.get_batches()
    batch_id = next(b["id"] for b in batches["batches"] if b["name"] == "From the client")
    out = {
        "workspace": {"name": workspace.name, "url": workspace.url, "projects": workspace.projects()},
        "project": {"id": project.id, "images": project.images, "classes": project.classes},
        "uploaded": uploaded,
        "single": single,
        "again": again,
        "batches": batches,
        "batch": project.get_batch(batch_id),
        "image": project.image(single["image"]["id"]),
        "search": project.search(tag="client", fields=["id", "name", "tags"]),
        "job": project.create_annotation_job(
            name="Client job",
            batch_id=batch_id,
            num_images=1,
            labeler_email="labeler@acme.test",
            reviewer_email="reviewer@acme.test",
        ),
        "jobs": project.get_annotation_jobs(),
        "by_path": rf.project("acme/parcels").id,
        "calls": calls,
    }
    out["one_job"] = project.get_annotation_job(out["job"]["id"])
    print(json.dumps(out))
    """
)


def client_env(live_server, tmp_path, key: str) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ROBOFLOW", "API_URL", "DJANGO")) and "PROXY" not in name.upper()
    }
    env.update(
        API_URL=f"{live_server.url}/api",
        KEY=key,
        HOME=str(tmp_path),
        ROBOFLOW_CONFIG_DIR=str(tmp_path / "roboflow.json"),
        TQDM_DISABLE="1",
        NO_PROXY="*",
    )
    return env


def run_client(script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own script, run with this interpreter
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_client_stops_at_once_on_a_bad_key(live_server, tmp_path, project):
    script = "import roboflow, os; roboflow.Roboflow(api_key=os.environ['KEY'])"
    run = run_client(script, client_env(live_server, tmp_path, "bbnotakeyatall"))
    assert run.returncode != 0
    assert "RuntimeError" in run.stderr and "This API key is not valid." in run.stderr
    assert "retrying" not in run.stdout


def test_the_roboflow_client_works_end_to_end(live_server, tmp_path, manager, labeler, reviewer, project, make_key):
    paths = {"first": tmp_path / "first.jpg", "second": tmp_path / "second.jpg", "xml": tmp_path / "second.xml"}
    paths["first"].write_bytes(jpeg_bytes(color=(10, 200, 30)))
    paths["second"].write_bytes(jpeg_bytes(color=(200, 10, 30)))
    paths["xml"].write_text(voc("parcel", filename="second.jpg"))
    env = client_env(live_server, tmp_path, make_key(manager))
    run = run_client(SCRIPT, env, json.dumps({k: str(v) for k, v in paths.items()}))
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert out["workspace"] == {"name": "Acme", "url": "acme", "projects": ["acme/parcels"]}
    assert out["project"]["id"] == "acme/parcels" and out["by_path"] == "acme/parcels"

    (first,) = out["uploaded"]
    assert first["image"]["success"] is True and first["annotation"] is None
    assert out["single"]["image"]["success"] is True and out["single"]["annotation"] == {"success": True}
    assert out["again"]["image"] == {"duplicate": True, "id": out["single"]["image"]["id"]}
    assert out["again"]["annotation"] == {"warn": "already annotated"}

    batch = Batch.objects.get(name="From the client")
    listed = next(b for b in out["batches"]["batches"] if b["id"] == str(batch.pk))
    assert listed["images"] == 2
    # The job below took one image; the other split off into a new Unassigned batch.
    assert (
        Image.objects.filter(placement__batch=batch).count()
        == 1
        == Image.objects.filter(placement__batch__split_from=batch).count()
    )
    assert out["batch"]["id"] == str(batch.pk) and out["batch"]["images"] == 2

    image = out["image"]
    assert image["id"] == out["single"]["image"]["id"] and image["name"] == "second.jpg"
    assert image["labels"] == ["parcel"]
    assert image["annotation"]["boxes"] == [{"label": "parcel", "x": 14.0, "y": 18.0, "width": 20.0, "height": 24.0}]
    assert [r["id"] for r in out["search"]] == [first["image"]["id"]]

    job = out["job"]
    assert (job["numImages"], job["labeler"], job["reviewer"], job["status"]) == (
        1,
        "labeler@acme.test",
        "reviewer@acme.test",
        "assigned",
    )
    assert [j["id"] for j in out["jobs"]["jobs"]] == [job["id"]] and out["one_job"] == job
    assert Job.objects.get().batch_id == batch.pk

    assert out["calls"][0].upper() == "POST /"
    assert {call.split()[1] for call in out["calls"]} >= {
        "/acme",
        "/acme/parcels",
        "/dataset/parcels/upload",
        f"/dataset/parcels/annotate/{image['id']}",
        "/acme/parcels/batches",
        f"/acme/parcels/batches/{batch.pk}",
        f"/acme/parcels/images/{image['id']}",
        "/acme/parcels/search",
        "/acme/parcels/jobs",
        f"/acme/parcels/jobs/{job['id']}",
    }
