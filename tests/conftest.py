"""pytest fixtures: a booted Pollux per test, with its console log
(symbolized) attached to any failure."""
import os
import subprocess

import pytest

from pollux import KERNEL, ROOT, Machine, symbolize


def pytest_sessionstart(session):
    # `make test` builds first; a bare `pytest` run builds too.
    if not os.environ.get("POLLUX_NO_BUILD"):
        subprocess.run(["make", "-s", "-C", ROOT, "all"], check=True)


@pytest.fixture
def boot(request):
    machines = []

    def _boot(**kw):
        m = Machine(**kw)
        machines.append(m)
        return m

    yield _boot
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    for m in machines:
        m.close()
        if failed:
            print("---- console log (symbolized) ----")
            print(symbolize(m.log, m.kernel)[-20000:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
