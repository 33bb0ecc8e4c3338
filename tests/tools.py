"""System tools some tests need (Debian's chromium, tesseract-ocr): skipped where missing, except in CI, where
.ci/run installs them and a missing one fails the run."""

import os
import shutil

import pytest


def require(tool: str, package: str) -> str:
    """The tool's path; skip the test without it, or fail it under CI=true."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}: CI needs it")
        pytest.skip(message)
    return path
