"""Demo data: workspace "demo" with two projects and batches in every column.

Idempotent: running it again changes nothing that is already there. Needs no
network: the images are drawn with Pillow.

The demo's passwords and API key are published, so the command refuses to run
with DEBUG off (production settings) unless told
``--i-know-this-is-not-production``, as for a public demo server.
"""

import io
import os
import random

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from PIL import Image as PILImage
from PIL import ImageDraw

from accounts.models import ApiKey, ApiScope, Membership, User, Workspace, hash_api_key
from accounts.roles import Role
from boards import services
from boards.models import AnnotationState, Batch, Image, LabelClass, Project

PASSWORD = "demo"
DEMO_API_KEY = "bbdemo7k3x9qparcels2streets4review8m5w"
USERS = [
    ("owner@demo.test", "Olivia Owner", Role.OWNER),
    ("manager@demo.test", "Mara Manager", Role.MANAGER),
    ("reviewer@demo.test", "Rui Reviewer", Role.REVIEWER),
    ("labeler@demo.test", "Lena Labeler", Role.LABELER),
    ("viewer@demo.test", "Vic Viewer", Role.VIEWER),
]
ADMIN = ("admin@demo.test", "Ada Admin")
NOT_PRODUCTION = "--i-know-this-is-not-production"


def demo_image(seed: int, size=(640, 480)) -> bytes:
    """A street-or-parcel-like picture: sky, ground and a few boxes."""
    rnd = random.Random(seed)
    im = PILImage.new("RGB", size, (rnd.randint(120, 200), rnd.randint(150, 210), rnd.randint(190, 240)))
    draw = ImageDraw.Draw(im)
    horizon = rnd.randint(size[1] // 3, size[1] // 2)
    draw.rectangle([0, horizon, size[0], size[1]], fill=(rnd.randint(60, 110),) * 3)
    for _ in range(rnd.randint(2, 6)):
        w, h = rnd.randint(40, 160), rnd.randint(30, 120)
        x, y = rnd.randint(0, size[0] - w), rnd.randint(horizon - h // 2, size[1] - h)
        color = tuple(rnd.randint(30, 230) for _ in range(3))
        draw.rectangle([x, y, x + w, y + h], fill=color, outline=(20, 20, 20), width=2)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


class Command(BaseCommand):
    help = "Create the demo workspace, users, projects, batches and API key (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            NOT_PRODUCTION,
            action="store_true",
            dest="not_production",
            help="Run even with DEBUG off: the demo logins and API key are public, never use this in production.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["not_production"]:
            raise CommandError(
                "DEBUG is off, so these look like production settings: seed_demo would create a superuser "
                f"{ADMIN[0]} with the password '{PASSWORD}' and a published API key. Run it with DEBUG=1, or add "
                f"{NOT_PRODUCTION} if this server really is a throwaway demo."
            )
        with transaction.atomic():
            users = self._users()
            workspace, _ = Workspace.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
            for email, _name, role in USERS:
                Membership.objects.get_or_create(workspace=workspace, user=users[email], defaults={"role": role})
            self._api_key(workspace, users["manager@demo.test"])
            parcels, created_p = Project.objects.get_or_create(
                workspace=workspace, slug="parcels", defaults={"name": "Parcels", "review_mode": True}
            )
            streets, created_s = Project.objects.get_or_create(
                workspace=workspace, slug="streets", defaults={"name": "Streets", "review_mode": False}
            )
        if created_p or not parcels.batches.exists():
            self._fill(parcels, users, seed=1, with_review=True)
        if created_s or not streets.batches.exists():
            self._fill(streets, users, seed=2, with_review=False)
        self._print()

    def _users(self) -> dict[str, User]:
        users = {}
        for email, name, _role in USERS:
            user, created = User.objects.get_or_create(email=email, defaults={"full_name": name})
            if created:
                user.set_password(PASSWORD)
                user.save()
            users[email] = user
        admin, created = User.objects.get_or_create(
            email=ADMIN[0], defaults={"full_name": ADMIN[1], "is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(PASSWORD)
            admin.save()
        return users

    def _api_key(self, workspace, creator):
        ApiKey.objects.get_or_create(
            key_hash=hash_api_key(DEMO_API_KEY),
            defaults={
                "workspace": workspace,
                "name": "Demo key",
                "prefix": DEMO_API_KEY[:8],
                "scopes": [s.value for s in ApiScope],
                "created_by": creator,
            },
        )

    def _fill(self, project, users, *, seed, with_review):
        for name, color in [("parcel", "#2563eb"), ("car", "#dc2626"), ("person", "#16a34a"), ("sign", "#ca8a04")]:
            LabelClass.objects.get_or_create(
                project=project,
                name=name,
                defaults={"color": color, "hotkey": LabelClass.objects.filter(project=project).count() + 1},
            )
        manager, labeler, reviewer = users["manager@demo.test"], users["labeler@demo.test"], users["reviewer@demo.test"]
        counter = iter(range(seed * 1000, seed * 1000 + 1000))

        def batch(name, n, priority=3):
            files = [
                SimpleUploadedFile(f"{project.slug}-{next(counter):04d}.jpg", demo_image(next(counter)))
                for _ in range(n)
            ]
            return services.upload_images(
                project=project, actor=manager, files=files, batch_name=name, priority=priority
            ).batch

        def annotate_all(b):
            label = project.label_classes.first()
            images = list(Image.objects.filter(placement__batch=b))
            from boards.models import Annotation

            Annotation.objects.bulk_create(
                Annotation(image=im, label=label, x=40, y=60, width=120, height=80) for im in images
            )
            Image.objects.filter(placement__batch=b).update(
                annotation_state=AnnotationState.ANNOTATED, annotated_by=labeler
            )

        batch("Morning delivery run", 12, priority=1)
        batch("Warehouse dock B", 6, priority=4)
        b = batch("Downtown route", 10, priority=2)
        services.assign(batch=b, actor=manager, labeler=labeler, reviewer=reviewer if with_review else None)
        b = batch("Suburb loop", 8)
        services.assign(batch=b, actor=manager, labeler=labeler, reviewer=reviewer if with_review else None)
        annotate_all(b)
        b = Batch.objects.get(pk=b.pk)
        services.submit(batch=b, actor=labeler)
        if with_review:
            b = batch("Harbour pickups", 9, priority=2)
            services.assign(batch=b, actor=manager, labeler=labeler, reviewer=reviewer)
            annotate_all(b)
            services.submit(batch=Batch.objects.get(pk=b.pk), actor=labeler)
            services.approve(
                batch=Batch.objects.get(pk=Batch.objects.get(name="Suburb loop", project=project).pk), actor=reviewer
            )

    def _print(self):
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        port = os.environ.get("PORT", "8000")
        self.stdout.write(f"  Log in at http://127.0.0.1:{port}/ with password 'demo' as:")
        for email, _name, role in USERS:
            self.stdout.write(f"    {email:<22} {role.label}")
        self.stdout.write(f"    {ADMIN[0]:<22} Django admin (superuser)")
        self.stdout.write(f"  Demo API key (workspace 'demo'): {DEMO_API_KEY}")
