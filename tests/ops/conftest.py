"""Fixtures for the ops tests: the three execution paths of every op.

``path`` parametrises a test over
  * "reference": the PyTorch reference on CPU (``POINTWM_OPS_REFERENCE=1``);
  * "host": the public op on CPU tensors with the cuda/*.cu kernels compiled by g++
    through cuda/host_emulation.h and dispatched exactly like the CUDA path (self-check
    included); the fixture fails the test if any self-check fell back;
  * "cuda": the public op on a CUDA device (kernels when cupy is installed), skipped with a
    reason when no GPU is present.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import torch

from pointwm.ops import _backend

PATHS = [
    "reference",
    "host",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]


@pytest.fixture(scope="session")
def host_backend(tmp_path_factory: pytest.TempPathFactory) -> _backend.HostBackend:
    """Every cuda/*.cu compiled with g++ -Wall -Wextra -Werror, loaded through ctypes."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: cannot build the host-emulated kernels")
    return _backend.build_host_backend(tmp_path_factory.mktemp("host_kernels"))


@pytest.fixture(params=PATHS)
def device(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[torch.device]:
    """The device to put inputs on, with the dispatch set up for the chosen path."""
    path = request.param
    _backend.reset_self_checks()
    if path == "reference":
        monkeypatch.setenv(_backend.ENV_REFERENCE, "1")
        yield torch.device("cpu")
    elif path == "host":
        host = request.getfixturevalue("host_backend")
        monkeypatch.delenv(_backend.ENV_REFERENCE, raising=False)
        monkeypatch.setattr(
            _backend, "_device_backend", lambda d: host if d.type == "cpu" else None
        )
        yield torch.device("cpu")
        failed = [k for k, ok in _backend._checked.items() if not ok]
        assert not failed, f"host kernels failed their self-check: {failed}"
    else:
        monkeypatch.delenv(_backend.ENV_REFERENCE, raising=False)
        yield torch.device("cuda")
        failed = [k for k, ok in _backend._checked.items() if not ok]
        assert not failed, f"CUDA kernels failed their self-check: {failed}"
    _backend.reset_self_checks()


TOLERANCES = {
    torch.float16: {"rtol": 1e-2, "atol": 1e-2},
    torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2},
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
}


@pytest.fixture()
def tol():
    """tol(dtype) -> assert_close tolerances for that dtype."""
    return TOLERANCES.__getitem__
