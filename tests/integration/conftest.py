import pytest

from tests.integration.desk import Desk

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """Redis, the simulator, gunicorn and `rq worker`s, all real processes.

    Shared by a module's tests (starting them takes seconds); each test uses
    users of its own, and `fresh_desk` puts back what a test took away.
    """
    running = Desk(tmp_path_factory.mktemp("desk"))
    try:
        running.start_redis()
        running.start_simulator("--redelivery-delays", "1,1,2,2,2,2")
        running.start_web()
        running.start_workers(2)
        yield running
    finally:
        running.kill_workers()
        running.stop()


@pytest.fixture(autouse=True)
def fresh_desk(request):
    if "desk" not in request.fixturenames:
        yield
        return
    desk = request.getfixturevalue("desk")
    yield
    if "redis" not in desk.procs:
        desk.start_redis()
    desk.api("delete", "/faults")
    desk.ensure_workers(2)
