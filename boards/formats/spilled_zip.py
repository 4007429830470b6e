"""A ``zipfile.ZipFile`` for writing archives of any size in flat memory.

``zipfile`` keeps a ``ZipInfo`` for every member it has written (about 450 bytes with its
numbers and name), because it writes the archive's central directory, which lists them all,
when it closes. An export of 100,000 images has 200,000 members: some 90 MB held to the end.
``SpillingZipFile`` keeps that list in a temporary file instead (``_SpilledInfos``), packed as it
comes, and reads it back once, one member at a time, as the central directory is written; the
names-to-members index, which only a reader uses, is not kept. The archive is byte for byte what
``zipfile.ZipFile`` writes (tested); everything else is zipfile's own.
"""

from __future__ import annotations

import struct
import tempfile
import zipfile

# date_time (6), create_version, create_system, extract_version, reserved, flag_bits, compress_type,
# CRC, compress_size, file_size, header_offset, internal_attr, external_attr, volume, and the
# lengths of the name, the extra field and the comment that follow.
_RECORD = struct.Struct("<6HBBBBHHIQQQHIHHHH")


class _SpilledInfos:
    """The members zipfile has written, in a temporary file: append, count, and read back in order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the archive
        self._count = 0

    def append(self, info: zipfile.ZipInfo) -> None:
        name = info.filename.encode("utf-8")
        record = _RECORD.pack(
            *info.date_time,
            info.create_version,
            info.create_system,
            info.extract_version,
            info.reserved,
            info.flag_bits,
            info.compress_type,
            info.CRC,
            info.compress_size,
            info.file_size,
            info.header_offset,
            info.internal_attr,
            info.external_attr,
            info.volume,
            len(name),
            len(info.extra),
            len(info.comment),
        )
        self._file.write(record + name + info.extra + info.comment)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        self._file.seek(0)
        for _ in range(self._count):
            *date_time, create_version, create_system, extract_version, reserved, flag_bits, compress_type, crc, \
                compress_size, file_size, header_offset, internal_attr, external_attr, volume, name_length, \
                extra_length, comment_length = _RECORD.unpack(self._file.read(_RECORD.size))  # fmt: skip
            info = zipfile.ZipInfo(self._file.read(name_length).decode("utf-8"), tuple(date_time))
            info.extra = self._file.read(extra_length)
            info.comment = self._file.read(comment_length)
            info.create_version, info.create_system = create_version, create_system
            info.extract_version, info.reserved, info.flag_bits = extract_version, reserved, flag_bits
            info.compress_type, info.CRC = compress_type, crc
            info.compress_size, info.file_size, info.header_offset = compress_size, file_size, header_offset
            info.internal_attr, info.external_attr, info.volume = internal_attr, external_attr, volume
            yield info
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()


class _Unkept(dict):
    """zipfile's index of members by name: needed to read an archive, not to write one."""

    def __setitem__(self, key, value) -> None:
        pass


class SpillingZipFile(zipfile.ZipFile):
    """``zipfile.ZipFile`` for writing (mode "w"), its list of members kept on disk. Member names
    must be unique: with no index kept, zipfile cannot warn of a name written twice."""

    def __init__(self, file, mode: str = "w", **kwargs) -> None:
        if mode != "w":
            raise ValueError("SpillingZipFile only writes new archives.")
        super().__init__(file, mode, **kwargs)
        self.filelist = _SpilledInfos()  # type: ignore[assignment]
        self.NameToInfo = _Unkept()

    def close(self) -> None:
        infos = getattr(self, "filelist", None)
        if infos is None:  # refused in __init__: nothing was opened
            return
        try:
            super().close()
        finally:
            if isinstance(infos, _SpilledInfos):
                infos.close()
