"""The export's zip writer keeps its list of members on disk and writes what zipfile writes."""

import io
import subprocess
import zipfile

import pytest

from boards.formats.spilled_zip import SpillingZipFile


class Pipe:
    """A write-only stream, as an HTTP response or a pipe is: zipfile then writes data descriptors."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def value(self) -> bytes:
        return b"".join(self.parts)


MEMBERS = [
    ("images/a.jpg", b"\xff\xd8" + bytes(range(256)) * 40, zipfile.ZIP_STORED),
    ("labels/a.txt", b"0 0.5 0.5 0.2 0.1\n" * 30, zipfile.ZIP_DEFLATED),
    ("images/Straße café 東京.jpg", b"\xff\xd8jpeg", zipfile.ZIP_STORED),
    ("data.yaml", b"names:\n  0: 'car, \"blue\"'\n", zipfile.ZIP_DEFLATED),
    ("empty.txt", b"", zipfile.ZIP_DEFLATED),
]


def write(cls, members, *, force_zip64=False) -> bytes:
    pipe = Pipe()
    with cls(pipe, "w", allowZip64=True) as archive:
        for name, data, method in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with archive.open(info, "w", force_zip64=force_zip64) as target:
                target.write(data)
    return pipe.value()


@pytest.mark.parametrize("force_zip64", [False, True])
def test_it_writes_the_very_bytes_zipfile_writes(force_zip64):
    assert write(SpillingZipFile, MEMBERS, force_zip64=force_zip64) == write(
        zipfile.ZipFile, MEMBERS, force_zip64=force_zip64
    )


def test_what_it_writes_opens_and_checks_out(tmp_path):
    data = write(SpillingZipFile, MEMBERS)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert [i.filename for i in archive.infolist()] == [m[0] for m in MEMBERS]
    for name, content, method in MEMBERS:
        assert archive.read(name) == content
        assert archive.getinfo(name).compress_type == method
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    unzip = subprocess.run(["python3", "-m", "zipfile", "-t", str(path)], capture_output=True, text=True)
    assert unzip.returncode == 0, unzip.stderr


def test_thousands_of_members_are_listed_in_the_order_written():
    members = [(f"labels/frame_{n:05d}.txt", f"{n}\n".encode(), zipfile.ZIP_DEFLATED) for n in range(3000)]
    data = write(SpillingZipFile, members)
    assert data == write(zipfile.ZipFile, members)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == [m[0] for m in members]


def test_it_only_writes():
    with pytest.raises(ValueError, match="only writes"):
        SpillingZipFile(io.BytesIO(), "a")
