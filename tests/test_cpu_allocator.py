"""framework.cpu_allocator: glibc's malloc settings applied once when the cpu backend loads, or left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import framework as fw
from framework import cpu_allocator

_GLIBC = cpu_allocator._glibc_mallopt() is not None


def _run(code: str, **env: str) -> str:
    """``code`` in a fresh interpreter (the settings are once per process); returns its stdout."""
    full_env = {k: v for k, v in os.environ.items() if k != cpu_allocator.ENV_VAR} | env
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=full_env, check=True, timeout=120)
    return out.stdout.strip()


_SHOW = """
    import json
    import framework as fw
    from framework import cpu_allocator
    before = cpu_allocator.settings()
    fw.ones(3, device="cpu").sum().item()
    print(json.dumps([before, cpu_allocator.settings(), cpu_allocator.tune() == cpu_allocator.settings()]))
"""


@pytest.mark.skipif(not _GLIBC, reason="glibc's mallopt only (Linux with glibc)")
def test_cpu_backend_applies_the_settings_once():
    before, after, again = json.loads(_run(_SHOW))
    assert before == {}  # nothing applied before the backend loaded
    assert after["M_MMAP_THRESHOLD"] >= 32 << 20
    assert after["M_TRIM_THRESHOLD"] == 1 << 30 and after["M_TOP_PAD"] == 64 << 20
    assert again  # a second tune() returns the first call's answer


def test_env_var_leaves_malloc_alone():
    assert json.loads(_run(_SHOW, **{cpu_allocator.ENV_VAR: "default"})) == [{}, {}, True]


def test_settings_in_this_process_match_the_backend():
    fw.zeros(1)  # the cpu backend is loaded
    applied = cpu_allocator.settings()
    if os.environ.get(cpu_allocator.ENV_VAR, "").lower() == "default" or not _GLIBC:
        assert applied == {}
    else:
        assert set(applied) == {"M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "M_TOP_PAD"}
