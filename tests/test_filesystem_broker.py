"""The embedded broker (``filesystem://``, concord.filesystem_broker): a worker never sees a
message file before it is whole, and a file that is not a message is skipped, not fatal. Before,
kombu's transport created the file under its final name and then wrote it, so a worker polling
in between read it empty and stopped with an unrecoverable JSONDecodeError (kombu #1551)."""

import json
import os
import threading
from queue import Empty

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from concord import filesystem_broker


@pytest.fixture
def connection(tmp_path):
    queue = tmp_path / "queue"
    queue.mkdir()
    options = {
        "data_folder_in": str(queue), "data_folder_out": str(queue),
        "control_folder": str(tmp_path / "control"), "store_processed": False,
    }  # fmt: skip
    with Connection("filesystem://", transport_options=options) as connection:
        yield connection, queue


def test_filesystem_urls_use_the_atomic_transport(connection):
    conn, _ = connection
    assert isinstance(conn.default_channel, filesystem_broker.Channel)


def test_a_message_appears_under_its_queue_name_only_once_it_is_whole(connection, monkeypatch):
    conn, folder = connection
    channel = conn.default_channel
    seen_while_writing: list[list[str]] = []
    real_dumps = filesystem_broker.dumps

    def dumps_and_look(payload):
        seen_while_writing.append(sorted(os.listdir(folder)))
        return real_dumps(payload)

    monkeypatch.setattr(filesystem_broker, "dumps", dumps_and_look)
    channel._put("jobs", {"body": "one"})
    # While it is written, no file has a name a reader of the queue takes (kombu's own
    # transport showed the final, still empty, ``.jobs.msg`` here).
    assert len(seen_while_writing) == 1
    assert [name for name in seen_while_writing[0] if name.endswith(".jobs.msg")] == []
    names = os.listdir(folder)
    assert len(names) == 1 and names[0].endswith(".jobs.msg")
    assert json.loads((folder / names[0]).read_text()) == {"body": "one"}
    assert channel._get("jobs") == {"body": "one"}


def test_a_file_that_is_not_a_message_is_skipped_and_the_next_one_delivered(connection, caplog):
    conn, folder = connection
    channel = conn.default_channel
    # Named to sort before any message published now (kombu reads in name order); named
    # ``1_broken``, it sorted after ``12…`` and the test passed or failed with the uptime.
    broken = f"{0:0{filesystem_broker.TIME_DIGITS}d}_broken.jobs.msg"
    (folder / broken).write_bytes(b"")  # what the old transport let a reader see
    channel._put("jobs", {"body": "after"})
    assert channel._get("jobs") == {"body": "after"}
    assert "unreadable message file of queue jobs" in caplog.text
    assert os.listdir(folder) == []


def test_messages_are_delivered_in_publish_order_when_the_time_gains_a_digit(
    connection, monkeypatch
):
    conn, _ = connection
    channel = conn.default_channel
    clock = iter([9_999_999_999, 10_000_000_000])  # unpadded, "10000000000_" sorts first
    monkeypatch.setattr(filesystem_broker, "monotonic_ns", lambda: next(clock))
    channel._put("jobs", {"body": "first"})
    channel._put("jobs", {"body": "second"})
    assert channel._get("jobs") == {"body": "first"}
    assert channel._get("jobs") == {"body": "second"}


def test_a_reader_racing_a_writer_gets_every_message_whole(connection):
    """One thread publishes while another drains: every message arrives, none unreadable."""
    conn, _ = connection
    writer, reader = conn.channel(), conn.channel()
    count, got, errors = 300, [], []

    def publish():
        for n in range(count):
            writer._put("race", {"n": n})

    thread = threading.Thread(target=publish)
    thread.start()
    while len(got) < count:
        try:
            got.append(reader._get("race")["n"])
        except Empty:
            if not thread.is_alive() and len(got) < count:
                try:
                    got.append(reader._get("race")["n"])
                except Empty:
                    break
        except (ValueError, ChannelError) as exc:  # pragma: no cover - the failure it guards
            errors.append(exc)
    thread.join()
    assert errors == [] and sorted(got) == list(range(count))
