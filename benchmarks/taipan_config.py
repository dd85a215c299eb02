"""Reading Taipan's TOML configs, for the benchmark drivers in this folder."""

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_config(path, error):
    """The TOML document at `path` (relative to the repository root, or absolute). When it
    cannot be read or is not TOML, raises `error` (an exception type) with the path in its
    message."""
    try:
        with open(os.path.join(ROOT, path), "rb") as file:
            return tomllib.load(file)
    except OSError as failure:
        raise error(f"{path}: cannot read: {failure.strerror}") from failure
    except tomllib.TOMLDecodeError as failure:
        raise error(f"{path}: not valid TOML: {failure}") from failure
