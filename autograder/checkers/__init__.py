"""Checkers: verdicts on recorded histories and traces, never on live objects.

Each checker reads plain data (a client history, a trace) and explains every "no" with the
smallest piece of the data that shows it.
"""
