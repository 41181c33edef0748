"""People: conversations, the queue, agents."""
