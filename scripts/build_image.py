"""Build the image the `multistore-docker` work pool runs, rebuilding only what changed.

    python scripts/build_image.py                 # FROM python:3.11-slim (the default)
    python scripts/build_image.py --local-base    # FROM Debian bookworm made here by debootstrap
    python scripts/build_image.py --image registry.example.com/multistore

Three images, each built only when it is missing:

- the base, with `--local-base` only: `multistore-base:bookworm-<recipe>`, a minimal Debian root
  file system with python3 (`debootstrap --variant=minbase`, then imported), for machines that
  cannot pull from a public image registry. Chromium is not in it: debootstrap's resolver trips
  over chromium's alternative dependencies (dbus), so apt-get installs it in Dockerfile.deps;
- the dependencies, `multistore-deps:<lock>`: Dockerfile.deps on the base, the Python packages
  installed offline from a wheelhouse that pip fills on this machine (inside a build, package
  indexes may be unreachable or their TLS unverifiable). The lock is a hash of pyproject.toml's
  dependencies, Dockerfile.deps and the base, so a second build with the same dependencies
  skips all of it;
- the image, `<image>:<version>`: ./Dockerfile, the code on top (a few seconds). The version
  hashes the lock and the code, so each version of the project has its own tag and a worker
  never runs a stale image that happens to carry the same tag.

The image reference is the last line on stdout (prefect.docker.yaml's build step reads it);
progress goes to stderr. Bad input is one line on stderr, naming what and how to fix it, and
exit status 1. Runs with the project's venv (it uses the Docker SDK that prefect-docker brings).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_BASE = "python:3.11-slim"
# Both bases run CPython 3.11, so one wheelhouse fits either; bookworm's is 3.11.2, and some
# dependencies need more below 3.11.3 (environment markers), so the wheelhouse is for 3.11.2.
PYTHON_VERSION = "3.11.2"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = "python3,python3-venv,ca-certificates"
# What the code version hashes: what ./Dockerfile copies that can change a run.
CODE = ("multistore", "cli", "flows", "tasks", "blocks", "sandbox", "scripts")
CODE_FILES = ("pyproject.toml", "Dockerfile", "Dockerfile.deps")


class BuildError(Exception):
    """One line for the user: what failed and how to fix it."""


def _log(message: str) -> None:
    print(f"build_image: {message}", file=sys.stderr, flush=True)


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def dependency_lock(base: str, root: Path = ROOT) -> str:
    """The deps image's tag: changes with the project's dependencies, Dockerfile.deps or the base
    (not with the rest of pyproject.toml: a lint setting does not rebuild the dependencies)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = "\n".join([project.get("requires-python", ""), *project["dependencies"]])
    return _digest(wanted.encode(), (root / "Dockerfile.deps").read_bytes(), base.encode())


def code_version(lock: str, root: Path = ROOT) -> str:
    """The image's tag: the lock and every code and configuration file the image carries."""
    paths = [root / name for name in CODE_FILES]
    paths += sorted((root / "data").glob("*.yaml"))
    for directory in CODE:
        paths += sorted(
            p
            for p in (root / directory).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    parts = [lock.encode()]
    for path in paths:
        parts += [str(path.relative_to(root)).encode(), path.read_bytes()]
    return _digest(*parts)


def git_revision(root: Path = ROOT) -> str:
    found = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return found.stdout.strip() if found.returncode == 0 else ""


def docker_client():
    import docker
    from docker.errors import DockerException

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(version="auto", timeout=600)
        client.ping()
    except DockerException as exc:
        raise BuildError(
            f"no Docker engine answers at {where}: start one (as root: dockerd), or set DOCKER_HOST"
            f" ({type(exc).__name__})"
        ) from None
    return client


def image_exists(client, ref: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(ref)
    except ImageNotFound:
        return False
    return True


def build(client, *, context: Path, dockerfile: str, tag: str, buildargs: dict[str, str]) -> None:
    """`docker build`, streaming the steps to stderr; the engine's error as one line."""
    from docker.errors import APIError

    errors: list[str] = []  # the step's own ERROR lines say more than the engine's summary
    try:
        for chunk in client.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=buildargs,
            # No bridge network on hosts that bind nothing beyond loopback; steps that fetch
            # (apt-get on the official base) use the host's network.
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
        ):
            line = chunk.get("stream", "").strip()
            if "error" in chunk:
                said = errors[-1] if errors else chunk["error"].strip()
                raise BuildError(f"docker build of {tag} failed: {said}")
            if line.startswith("Step "):
                _log(line)
            elif "ERROR" in line or line.startswith("E: "):
                errors.append(line)
    except APIError as exc:
        raise BuildError(f"docker build of {tag} failed: {exc.explanation or exc}") from None


def local_base(client, mirror: str) -> str:
    """A bookworm base made by debootstrap and imported (under a minute)."""
    ref = f"multistore-base:{DEBIAN_SUITE}-{_digest(DEBIAN_PACKAGES.encode())}"
    if image_exists(client, ref):
        _log(f"base {ref}: cached")
        return ref
    if os.geteuid() != 0:
        raise BuildError("--local-base runs debootstrap, which needs root: run as root, or drop it")
    if not shutil.which("debootstrap"):
        raise BuildError("--local-base needs debootstrap: apt-get install debootstrap")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="multistore-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        made = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={DEBIAN_PACKAGES}",
                DEBIAN_SUITE,
                str(rootfs),
                mirror,
            ],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            last = (made.stdout + made.stderr).strip().splitlines()[-1:]
            raise BuildError(f"debootstrap from {mirror} failed: {' '.join(last)}")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        name, tag = ref.split(":")
        client.api.import_image_from_file(str(tarball), repository=name, tag=tag)
    _log(f"base {ref}: built in {time.monotonic() - started:.0f} s")
    return ref


def _pip_download(directory: Path, *args: str) -> None:
    arch = platform.machine()
    fetched = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--platform",
            f"manylinux2014_{arch}",
            "--platform",
            f"manylinux_2_28_{arch}",
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--dest",
            str(directory),
            *args,
        ],
        capture_output=True,
        text=True,
    )
    if fetched.returncode != 0:
        errors = [line for line in fetched.stderr.splitlines() if "ERROR" in line] or ["?"]
        raise BuildError(f"pip could not fill the wheelhouse: {errors[0].strip()}")


def _missing_for_target(directory: Path) -> list[str]:
    """Requirements the image's Python needs that the wheelhouse lacks.

    pip evaluates environment markers against the Python running it, not --python-version, so a
    dependency marked e.g. `python_full_version < "3.11.3"` is skipped on a newer host although
    the image needs it. This reads each wheel's requirements with the target's markers instead.
    """
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename

    target = {
        **default_environment(),
        "python_full_version": PYTHON_VERSION,
        "python_version": PYTHON_VERSION.rsplit(".", 1)[0],
        "extra": "",
    }
    wheels = list(directory.glob("*.whl"))
    have = {parse_wheel_filename(wheel.name)[0] for wheel in wheels}
    missing: dict[str, str] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            lines = archive.read(metadata).decode().splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            requirement = Requirement(line.split(":", 1)[1].strip())
            name = canonicalize_name(requirement.name)
            if name in have or (requirement.marker and not requirement.marker.evaluate(target)):
                continue
            missing[name] = f"{requirement.name}{requirement.specifier}"
    return sorted(missing.values())


def fill_wheelhouse(directory: Path, root: Path = ROOT) -> None:
    """The dependencies as binary wheels for CPython 3.11 on Linux, downloaded here."""
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements = directory / "requirements.txt"
    requirements.write_text("\n".join(dependencies) + "\n")
    _pip_download(directory, "--requirement", str(requirements))
    for _ in range(5):  # each pass may bring wheels with requirements of their own
        missing = _missing_for_target(directory)
        if not missing:
            return
        _log(f"wheelhouse: also for Python {PYTHON_VERSION}: {', '.join(missing)}")
        _pip_download(directory, *missing)
    raise BuildError(f"the wheelhouse still lacks {', '.join(missing)} for Python {PYTHON_VERSION}")


def deps_image(client, base: str) -> str:
    ref = f"multistore-deps:{dependency_lock(base)}"
    if image_exists(client, ref):
        _log(f"dependencies {ref}: cached")
        return ref
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="multistore-wheelhouse-") as tmp:
        wheelhouse = Path(tmp)
        fill_wheelhouse(wheelhouse)
        _log(f"wheelhouse: {len(list(wheelhouse.glob('*.whl')))} wheels")
        # The wheelhouse is the context, so the code's context never carries 170 MB of wheels.
        build(
            client,
            context=wheelhouse,
            dockerfile=str(ROOT / "Dockerfile.deps"),
            tag=ref,
            buildargs={"BASE": base},
        )
    _log(f"dependencies {ref}: built in {time.monotonic() - started:.0f} s")
    return ref


def build_image(image: str, *, local: bool, base: str, mirror: str) -> str:
    """Build what is missing; the image reference."""
    client = docker_client()
    base_ref = local_base(client, mirror) if local else base
    deps = deps_image(client, base_ref)
    ref = f"{image}:{code_version(dependency_lock(base_ref))}"
    if image_exists(client, ref):
        _log(f"image {ref}: cached")
        return ref
    started = time.monotonic()
    version = ref.rsplit(":", 1)[1]
    build(
        client,
        context=ROOT,
        dockerfile="Dockerfile",
        tag=ref,
        buildargs={"DEPS": deps, "REVISION": git_revision(), "VERSION": version},
    )
    _log(f"image {ref}: built in {time.monotonic() - started:.0f} s")
    return ref


def push(ref: str) -> None:
    """Push `ref` when its name has a registry host; a bare local name stays on this machine."""
    host = ref.split("/", 1)[0] if "/" in ref else ""
    if not (host == "localhost" or "." in host or ":" in host):
        _log(f"{ref}: not pushed (no registry host in the name: one machine only)")
        return
    client = docker_client()
    name, tag = ref.rsplit(":", 1)
    for chunk in client.api.push(name, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise BuildError(f"docker push {ref} failed: {chunk['error'].strip()}")
    _log(f"{ref}: pushed")


def require_env(names: list[str]) -> None:
    """prefect.docker.yaml templates these into the job; unset, the job would get '{{ $X }}'."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise BuildError(
            f"set {', '.join(missing)} before deploying prefect.docker.yaml"
            " (the containers get them in their job variables)"
        )


def _base_from_env() -> str:
    """MULTISTORE_IMAGE_BASE: `local` (debootstrap) or an image to build from."""
    base = os.environ.get("MULTISTORE_IMAGE_BASE", "")
    return "" if base == "local" else base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--image",
        default=os.environ.get("MULTISTORE_IMAGE") or "multistore",
        help="image name, without tag (default: $MULTISTORE_IMAGE or multistore)",
    )
    parser.add_argument(
        "--local-base",
        action="store_true",
        default=os.environ.get("MULTISTORE_IMAGE_BASE") == "local",
        help="build the base with debootstrap instead of pulling one"
        " (default when MULTISTORE_IMAGE_BASE=local)",
    )
    parser.add_argument(
        "--base",
        default=_base_from_env() or OFFICIAL_BASE,
        help=f"base image to pull (default: {OFFICIAL_BASE})",
    )
    parser.add_argument(
        "--debian-mirror",
        default=os.environ.get("MULTISTORE_DEBIAN_MIRROR") or "http://deb.debian.org/debian",
    )
    parser.add_argument("--push", metavar="REF", help="push REF (built before) and stop")
    parser.add_argument(
        "--require", metavar="VAR", action="append", default=[], help="fail unless VAR is set"
    )
    args = parser.parse_args(argv)
    try:
        require_env(args.require)
        if args.push:
            push(args.push)
            return 0
        ref = build_image(
            args.image, local=args.local_base, base=args.base, mirror=args.debian_mirror
        )
    except BuildError as exc:
        print(f"build_image: {exc}", file=sys.stderr)
        return 1
    print(ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
