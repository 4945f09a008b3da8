"""The realtime layer: a Phoenix Channels socket endpoint, topic handlers and pub/sub."""

from maxlocal.realtime.endpoint import Identity, SocketEndpoint
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
    "Identity",
    "JoinRefused",
    "PubSub",
    "PubSubHandler",
    "ServerChannel",
    "SocketEndpoint",
    "TopicHandler",
]
