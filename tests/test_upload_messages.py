"""A file the upload refuses is refused in words a person can act on, not the decoder's."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from boards import imaging

pytestmark = pytest.mark.django_db


def noisy(fmt: str) -> bytes:
    out = io.BytesIO()
    PILImage.effect_noise((300, 200), 80).convert("RGB").save(out, fmt)
    return out.getvalue()


def test_it_says_a_truncated_file_was_cut_short(client, manager, project):
    data = noisy("JPEG")
    client.force_login(manager)
    response = client.post(
        reverse("upload", args=[project.workspace.slug, project.slug]),
        {"files": [SimpleUploadedFile("cut.jpg", data[: len(data) // 2], content_type="image/jpeg")]},
        headers={"Accept": "application/json"},
    )
    reason = response.json()["files"][0]["reason"]
    assert reason == (
        "The image is damaged or truncated: the file ends before the picture does, "
        "as when a copy or download stops early. Upload the complete file again."
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "GIF", "BMP", "WEBP"])
def test_no_decoder_text_reaches_the_person(fmt):
    data = noisy(fmt)
    with pytest.raises(imaging.ImageRejected) as refused:
        imaging.process(data[: len(data) // 2])
    message = str(refused.value)
    for raw in ("bytes not processed", "image file is truncated", "Truncated File Read", "scanline", "decoder object"):
        assert raw not in message
    assert message.endswith(".") and "(" not in message


def test_a_corrupt_png_is_said_to_be_corrupt():
    data = bytearray(noisy("PNG"))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(imaging.ImageRejected, match="part of its data is corrupt"):
        imaging.process(bytes(data))
