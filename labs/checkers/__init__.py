"""Checkers: verdicts on recorded histories and traces, never on live objects.

Each checker reads plain data (a client history, a trace) and explains every "no" with the
smallest piece of the data that shows it.

* Linearizability of a client history against a model: :func:`check_linearizability`, the
  models :data:`KV`, :func:`register` and :data:`VERSIONED_KV`, and :func:`read_history` for the
  runtime's histories and those of Jepsen, Knossos and Porcupine; :func:`linearizability_findings`,
  the verdict as a lab check reports it.
* Operations of a history or a trace, each invocation with its completion: :func:`pair_calls`,
  :func:`pair_trace_calls`.
* Strict serializability of a history of transactions: :func:`check_strict_serializability`;
  :func:`check_transactions` and :func:`read_transactions` for Elle's rw-register and
  list-append histories (and the course's JSON Lines).
* Invariants a lab declares over a trace: :class:`Invariant`, :func:`check_invariants`,
  :func:`as_check` (an invariant as a lab check).
"""

from .findings import linearizability_findings
from .history import (
    UNKNOWN,
    HistoryError,
    Input,
    Operation,
    from_history,
    pair_calls,
    pair_trace_calls,
)
from .importers import read_history
from .invariants import (
    Invariant,
    InvariantReport,
    Violation,
    all_agree,
    as_check,
    at_most_one_per,
    check_invariants,
    describe_event,
    log_matches,
    output_equals,
)
from .linearizability import Counterexample, LinearizabilityResult
from .linearizability import check as check_linearizability
from .model import Model, by_key
from .serializability import ANOMALIES, Anomaly, SerializabilityReport, check_strict_serializability
from .standard_models import KV, MODELS, REGISTER, VERSIONED_KV, register
from .txn_files import check_transactions, read_transactions
from .txn_graph import DepEdge
from .txn_history import (
    KnownOrder,
    Txn,
    TxnHistoryError,
    TxnOp,
    load_txns,
    txn_from_dict,
    txns_from_dicts,
)

__all__ = [
    "ANOMALIES", "KV", "MODELS", "REGISTER", "UNKNOWN", "VERSIONED_KV", "Anomaly",
    "Counterexample", "DepEdge", "HistoryError", "Input", "Invariant", "InvariantReport", "KnownOrder",
    "LinearizabilityResult", "Model", "Operation", "SerializabilityReport", "Txn",
    "TxnHistoryError", "TxnOp", "Violation", "all_agree", "as_check", "at_most_one_per",
    "by_key", "check_invariants", "check_linearizability", "check_strict_serializability",
    "check_transactions",
    "describe_event", "from_history", "linearizability_findings", "load_txns", "log_matches",
    "output_equals", "pair_calls", "pair_trace_calls", "read_history", "read_transactions", "register",
    "txn_from_dict", "txns_from_dicts",
]
