"""The notification outbox: messages to households are queued with the work that causes them and sent later.

Queuing writes a row in the caller's transaction (a rolled-back change sends nothing); a worker
delivers due rows through the configured sender, retrying with backoff.
"""

from registry.notifications.delivery import deliver_due
from registry.notifications.models import Channel, MessageState, OutboxMessage
from registry.notifications.senders import NotifySettings, Sender, SendFailed, sender_from_settings
from registry.notifications.services import queue_message
from registry.notifications.templates import NOTIFICATIONS_FILE, TemplateError

__all__ = [
    "NOTIFICATIONS_FILE", "Channel", "MessageState", "NotifySettings", "OutboxMessage", "SendFailed", "Sender",
    "TemplateError", "deliver_due", "queue_message", "sender_from_settings",
]
