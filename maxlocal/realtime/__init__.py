"""The realtime layer: a Phoenix Channels socket endpoint, topic handlers and pub/sub."""

from maxlocal.realtime.endpoint import SocketEndpoint
from maxlocal.realtime.pubsub import PubSub
from maxlocal.realtime.topics import (
    FeedHandler,
    JoinRefused,
    PubSubHandler,
    ServerChannel,
    TopicHandler,
)

__all__ = [
    "FeedHandler",
    "JoinRefused",
    "PubSub",
    "PubSubHandler",
    "ServerChannel",
    "SocketEndpoint",
    "TopicHandler",
]
