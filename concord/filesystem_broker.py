"""The embedded broker: kombu's filesystem transport, with messages written atomically.

kombu's own ``_put`` creates the message file under its final name and then writes into it,
while ``_get`` takes any file with a message name, without the writer's lock. A worker that
polls between the two (the beat inside ``make run``'s worker publishes every minute) reads an
empty file, and the ``JSONDecodeError`` is unrecoverable: the worker stops and every job stays
queued (kombu issue #1551). Here a message is written under a name no reader takes
(``….msg.part``) and renamed into place, which POSIX and Windows both do atomically within one
folder, so a reader sees a whole message or none. A file that still cannot be read as a
message (written by another kombu, or cut short by a full disk) is logged and skipped instead
of stopping the worker.

``concord.celery`` makes this the transport of ``filesystem://`` URLs in every process.
"""

import logging
import os
import uuid
from time import monotonic_ns

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)
PARTIAL_SUFFIX = ".part"
# kombu's reader takes files in the order of their sorted names, so the publish time in a name
# is in nanoseconds (two messages of one millisecond keep their order too) and zero-padded:
# names then sort as the times do (kombu's unpadded milliseconds ``999…`` sort after
# ``1000…``, delivering a later message first whenever the count gains a digit).
TIME_DIGITS = 20


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        """Put ``payload`` on ``queue``: written whole under a temporary name, then renamed
        into place under a name that sorts by publish time."""
        name = f"{monotonic_ns():0{TIME_DIGITS}d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        """The next message of ``queue``; a file that is not a message is logged and skipped
        (kombu has already taken it off the queue), never fatal to the worker."""
        while True:
            try:
                return super()._get(queue)
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
                logger.error("skipped an unreadable message file of queue %s: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
