"""Background work: the task that a stock ``rq worker`` imports by dotted path."""
