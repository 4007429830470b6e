"""Every main page fits the window, on a laptop and on a phone, in the light and the dark scheme."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import Page, expect

from boards import services
from boards.models import Annotation, AnnotationState, Batch, LabelClass
from tests.e2e.conftest import sideways_overflow
from tests.e2e.test_editor import scene
from tests.factories import BatchFactory, ImageFactory

BOARD = "/w/acme/p/parcels/"
SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
LONG_NAME = "Loading-bay-camera-3_2026-11-30T06-45-12_northern-entrance_overcast_batch-of-the-week"


def fresh(batch: Batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def make_batch(project, n: int, name: str, classes) -> Batch:
    batch = BatchFactory(project=project, name=name)
    for seed in range(n):
        data = scene(seed)
        image = ImageFactory(
            project=project,
            batch=batch,
            width=640,
            height=480,
            original_filename=f"{LONG_NAME}-{seed}.jpg",
            annotation_state=AnnotationState.ANNOTATED,
            file=ContentFile(data, name="photo.jpg"),
            thumbnail=ContentFile(data, name="t.jpg"),
        )
        Annotation.objects.create(image=image, label=classes[0], x=90 + 40 * seed, y=215, width=210, height=141)
        Annotation.objects.create(image=image, label=classes[1], x=426, y=190, width=38, height=160)
    return batch


@pytest.fixture
def world(project, owner, manager, reviewer, labeler, viewer):
    """A board with a batch in every column, long names included, and one archived batch."""
    classes = [
        LabelClass.objects.create(project=project, name="car", color="#dc2626", hotkey=1),
        LabelClass.objects.create(project=project, name="person-with-a-very-long-class-name", color="#16a34a"),
    ]
    make_batch(project, 3, f"New: {LONG_NAME}", classes)
    working = make_batch(project, 3, "South depot, week 12", classes)
    services.assign(batch=working, actor=manager, labeler=labeler, reviewer=reviewer)
    waiting = make_batch(project, 3, "Returns desk", classes)
    services.assign(batch=waiting, actor=manager, labeler=labeler, reviewer=reviewer)
    services.submit(batch=fresh(waiting), actor=labeler)
    old = make_batch(project, 2, "Old batch", classes)
    services.archive(batch=fresh(old), actor=manager)
    ImageFactory(project=project, original_filename=f"{LONG_NAME}-loose.jpg")
    return {"working": fresh(working), "waiting": fresh(waiting)}


def pages(world) -> dict[str, str]:
    working, waiting = world["working"], world["waiting"]
    return {
        "home": "/",
        "board": BOARD,
        "batch": f"{BOARD}batches/{working.pk}/",
        "editor": f"{BOARD}batches/{working.pk}/annotate/{working.images.order_by('pk').first().pk}/",
        "review": f"{BOARD}batches/{waiting.pk}/review/",
        "catalog": f"{BOARD}catalog/",
        "workspace-catalog": "/w/acme/catalog/",
        "upload": f"{BOARD}upload/",
        "import": f"{BOARD}import/",
        "export": f"{BOARD}export/",
        "settings": f"{BOARD}settings/",
        "my-work": "/my-work/",
        "api-keys": "/accounts/workspaces/acme/api-keys/",
        "archived": f"{BOARD}archived/",
        "merge": f"{BOARD}merge/",
        "assign-dialog": f"{BOARD}batches/{working.pk}/dialog/assign",
        "api-reference": "/docs/api/",
        "password": "/accounts/password/",
        "not-found": f"{BOARD}batches/999999/",
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(SIZES))
def test_it_fits_every_page_in_the_window(page: Page, url, login, world, owner, viewer, shoot, size, scheme):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)
    too_wide = []

    def visit(name: str, path: str) -> None:
        page.goto(url(path))
        expect(page.locator("html")).to_have_attribute("data-theme", "system")
        if problem := sideways_overflow(page):
            too_wide.append(problem)
        shoot(f"layout-{name}-{size}-{scheme}")

    visit("login", "/accounts/login/")
    login(owner)
    for name, path in pages(world).items():
        visit(name, path)
    page.context.clear_cookies()
    login(viewer)
    visit("forbidden", f"{BOARD}settings/")

    assert not too_wide, "\n".join(too_wide)


def test_it_remembers_the_chosen_scheme_and_follows_the_system_otherwise(page: Page, url, login, owner, project):
    page.emulate_media(color_scheme="dark")
    login(owner)
    html = page.locator("html")
    picker = page.get_by_label("Colour scheme")
    expect(html).to_have_attribute("data-theme", "system")
    expect(picker).to_have_value("system")
    dark_background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")

    picker.select_option("light")
    expect(html).to_have_attribute("data-theme", "light")
    page.goto(url(BOARD))
    expect(html).to_have_attribute("data-theme", "light")
    expect(page.get_by_label("Colour scheme")).to_have_value("light")
    light_background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert light_background == "rgb(245, 246, 248)" != dark_background

    page.emulate_media(color_scheme="light")
    page.get_by_label("Colour scheme").select_option("dark")
    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == dark_background

    page.get_by_label("Colour scheme").select_option("system")
    page.reload()
    expect(html).to_have_attribute("data-theme", "system")
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == light_background
