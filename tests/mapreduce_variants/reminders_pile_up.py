"""Buggy MapReduce worker: ask() never cancels the reminder it set last time, so a task that ends
before that reminder fires leaves two reminders pending, and the worker asks twice as often."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import COORDINATOR, AskAgain, Coordinator, GetTask, JobClient
from labs.runtime.roles import by_name


class Worker(reference.Worker):
    def ask(self) -> None:
        self.send(COORDINATOR, GetTask())
        self.reminder = self.set_timer(reference.ASK_EVERY, AskAgain())


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
