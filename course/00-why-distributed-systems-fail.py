# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 0: why distributed systems are different
#
# A program on one computer either works or stops. A program spread over several computers can do
# something stranger: keep going with a piece of it missing, and not know which piece. This
# chapter is about that strangeness and the habits it forces on you: expecting failure, saying
# "no" before you drown, measuring tails rather than averages, and reasoning with rough numbers.
#
# You will not just read about it. Every idea below that can be shown is shown on a small cluster
# running in the course's simulator: a whole cluster in one Python process, with a virtual clock
# and one random seed. The same seed gives the same run, event for event, so when a demo says
# "look at the third message", it is there for you too. Each demo ends with **Look at**, what to
# notice, and most with **Try this**, a parameter to change before running the cell again.
#
# The chapter ends with five small exercises, checked by code.
#
# *Contents:* 1. why distribute at all · 2. partial failure · 3. "just retry" · 4. the two
# generals · 5. the fallacies · 6. "it's slow" · 7. percentiles · 8. partial availability ·
# 9. metrics over log lines · 10. backpressure · 11. retries and back-off · 12. capacity on the back
# of an envelope · 13. CAP as a critic · 14. more lessons, briefly · exercises · further reading

# %%
import sys
from pathlib import Path

try:
    import course.demos  # noqa: F401  (installed with the project: pip install -e .)
except ImportError:  # a checkout that was not installed: use the repository's own copy
    sys.path.insert(0, str(Path.cwd().resolve().parent))

from IPython.display import display

import labs
from course.demos import generals, measure, queues, replicas, retries, search
from course.demos.charts import LineChart, table_of
from labs.checkers import check_linearizability, register
from labs.pictures import TraceWidget, picture_of

# %% [markdown]
# ## 1. Why spread a program over several machines?
#
# Because one machine is not enough, in one of a few ways:
#
# - **capacity**: the data or the traffic outgrows the biggest machine you can buy (or afford);
# - **parallelism**: a job that takes a day on one machine takes minutes on a thousand;
# - **fault tolerance**: the service must outlive any single machine, disk or power supply, and
#   ideally any single building;
# - **locality**: users in Sydney should not wait for a round trip to Virginia;
# - **isolation**: some parts must be kept apart, for security or so that one team's failure does
#   not become everyone's.
#
# The price is paid in three currencies: **concurrency** (many things happen at once, in no agreed
# order), **partial failure** (some parts fail while others go on) and the **cost of consistency**
# (making copies agree takes messages, and messages take time). A single machine is also far
# more capable than people tend to assume (section 12 puts numbers on it), so the first design
# question is always whether you need more than one.
#
# The course follows the classic arc: this chapter, then MapReduce, RPC, primary-backup
# replication, Raft, CRAQ and Spanner, each chapter with a lab you build and break.

# %% [markdown]
# ## 2. Partial failure: the write that reached one machine
#
# Here is the simplest replicated store imaginable: two machines, `n1` and `n2`, each holding a
# copy of a key-value map. The client keeps them equal by sending every write to both and
# waiting for both to say "done". The network loses 10% of messages and delays each by 1 to
# 20 ms.
#
# What can the client conclude when only one "done" comes back? Perhaps the write to `n2` was
# lost. Perhaps `n2` did it and its answer was lost. Perhaps `n2` is just slow. From where the
# client sits, these look exactly alike: it ends the operation as **unknown** after 200 ms.

# %% tags=["demo-partial-failure"]
one_try = labs.run(replicas.write_both_lab(), "sim", replicas.lossy(loss=0.1, duration=1.0), seed=8)

fate = replicas.reached(one_try)  # for each write: the machines it reached
ops = measure.outcomes(one_try)
display(table_of([{
    "writes": len(fate),
    "reached both": sum(len(where) == 2 for where in fate.values()),
    "reached only one": sum(len(where) == 1 for where in fate.values()),
    "reached neither": sum(not where for where in fate.values()),
    "client saw ok": ops["ok"],
    "client saw unknown": ops["info"],
}], title="One client writing x to two machines over a lossy network"))
print("what each machine holds at the end:", replicas.contents(one_try))
print("keys on which they disagree:", replicas.diverged(one_try))

# %% [markdown]
# **Look at** the two counts: a write that reached only one machine, and more operations ending
# *unknown* than writes that were really lost (some lost messages were only the answers). At
# the end the machines hold different values for `x`: whichever machine you read from decides
# what you see.
#
# The picture below is the same run. Time flows left to right, one lane per node. **Look at** the
# `Put` arrows that end in a red **×** (lost on the way) and at the client's operation bars above
# lane `c1`: grey ones ended unknown. Hover over an arrow to see the message.

# %% tags=["picture-partial-failure"]
TraceWidget(picture_of(one_try, "write to both machines, 10% loss, seed 8"))

# %% [markdown]
# On one computer a failure is usually total and visible: the process dies, and whatever it was
# doing stops with it. Across machines, failure is **partial**: one side did its part, the other
# did not, and nobody is sure which. Switches fail, a paused process looks dead and then wakes up,
# a write that the sending side considers done never landed. This, far more than the network's
# latency, is what makes the field its own: every step of a protocol must be designed for the
# case where the step half-happened.
#
# Two words help here. A **fault** is one component going wrong: a lost message, a dead disk, a
# process that pauses. A **failure** is the whole system no longer doing its job for its users.
# Faults cannot be prevented; the craft is to keep faults from becoming failures. And the only way
# to know that a system does is to inject faults on purpose and watch, which is what every fault
# schedule in this course does (in production it is called chaos engineering).
#
# **Try this:** set `loss=0.3`, or another `seed`, and run the two cells again.

# %% [markdown]
# ## 3. "Just retry", and "just write to both"
#
# The obvious fix: if a machine has not confirmed a write, send it again every 50 ms until it
# does. Against lost messages alone that works. The table below runs three set-ups over 20
# seeds each (a few seconds of lossy network per run):

# %% tags=["demo-just-retry"]
def retry_row(label, retry, clients, keys, seeds=range(20)):
    ended_apart = unknown = one_only = 0
    apart_share = 0.0
    for seed in seeds:
        run = labs.run(replicas.write_both_lab(retry, clients, keys), "sim", replicas.lossy(0.1), seed=seed)
        ended_apart += bool(replicas.diverged(run))
        unknown += measure.outcomes(run)["info"]
        one_only += sum(len(where) == 1 for where in replicas.reached(run).values())
        apart_share += replicas.disagreement(run) / run.schedule.end() / len(seeds)
    return {"set-up": label, "runs ending apart (of 20)": ended_apart,
            "writes on one machine only": one_only, "ops unknown": unknown,
            "time spent disagreeing": f"{apart_share:.0%}"}


table_of([
    retry_row("1 client, send once", retry=False, clients=1, keys="x"),
    retry_row("1 client, resend until confirmed", retry=True, clients=1, keys="x"),
    retry_row("3 clients, resend until confirmed", retry=True, clients=3, keys="x"),
], title="Writing to both machines, 10% loss, 20 seeds each")

# %% [markdown]
# **Look at** the second row: with one client, resending closes the gap; the machines disagree
# only while a write is still being resent. Now **look at** the third row: three clients writing
# the same key, each resending faithfully, and most runs end with the two machines disagreeing
# *forever*.
#
# Nothing was lost for good this time. The trouble is order: client A's write and client B's
# write race to both machines, the network delivers them A-then-B at `n1` and B-then-A at `n2`,
# and each machine keeps the one it received last. A resent copy of an old write can even
# arrive after a newer one. Retrying repairs loss; it cannot make two machines agree on an
# *order*. That needs one place that decides the order (a primary, chapter 4) or a protocol by
# which a majority agrees on it (Raft, chapter 5).
#
# Retrying has a second catch, for chapter 2: a write that is resent may be applied twice. Here
# that is harmless (writing the same value twice leaves the same value); for "add 10 euros to
# the account" it is not.
#
# **Try this:** two keys (`keys="xy"`), or `loss=0.0` in `replicas.lossy` with three clients:
# does ordering still go wrong on a network that loses nothing?

# %% [markdown]
# ## 4. The two generals
#
# Two generals camp on either side of a valley and win only if they attack at dawn together;
# attacking alone is a massacre. They can communicate only by messengers crossing the valley, and
# any messenger may be caught. General `n1` sends "dawn". If the messenger gets through, `n2`
# knows the plan, but `n1` does not know that `n2` knows, so `n2` sends a messenger back;
# then `n2` does not know whether *that* one arrived... In the protocol below, messengers go back
# and forth a fixed number of times, and a general attacks only if every messenger addressed to
# it arrived. Each messenger is caught with probability 0.2.

# %% tags=["demo-two-generals"]
rows = []
for messengers in range(1, 7):
    counts = generals.tally(messengers, loss=0.2, seeds=range(200))
    alone = sum(n for what, n in counts.items() if what.startswith("only"))
    rows.append({"messengers": messengers, "both attack": counts["both attack"],
                 "neither attacks": counts["neither attacks"], "one attacks alone": alone})
table_of(rows, title="200 runs per row, each messenger caught with probability 0.2")

# %% [markdown]
# **Look at** the last column: it shrinks as messengers are added, but never reaches zero, and
# the runs it loses go to "neither attacks", not to "both attack". There is a reason no
# protocol can fix this. Take any protocol and a run in which both generals attack. Consider the
# last messenger that arrived in that run: its sender decided without knowing it arrived, so the
# sender would act the same if it had been caught. Remove it, and the receiver must still attack
# too, or the generals disagree. Repeat the argument messenger by messenger until no messenger
# is left: the generals would have to attack with no communication at all. So every protocol
# either sometimes lets a general attack alone or never attacks.
#
# Here is one of those runs. The log track under the diagram shows what each general decided at
# dawn; hover over the points.

# %% tags=["picture-two-generals"]
alone_run = labs.run(generals.lab(messengers=3), "sim", generals.valley(loss=0.2), seed=1)
print(generals.outcome(alone_run), generals.decisions(alone_run))
TraceWidget(picture_of(alone_run, "three messengers, seed 1: the last one was caught"))

# %% [markdown]
# Real systems live with this. They stop asking for certainty that both sides agree *now* and
# instead make it safe to act on partial knowledge: operations that can be repeated without harm,
# answers that may say "unknown", and decisions taken by a majority that remembers them (Raft).
#
# **Try this:** `loss=0.0` (does the protocol ever fail?), or `loss=0.5`.

# %% [markdown]
# ## 5. Eight comfortable beliefs
#
# In the 1990s engineers at Sun Microsystems (Peter Deutsch, and James Gosling for the last one)
# wrote down the assumptions that newcomers to networked programs make without noticing. Every
# one of them is false, and each has caused outages. In this course most of them are a line of a
# fault schedule, so you will break them on purpose:
#
# | the belief | what is true | in this course |
# |---|---|---|
# | the network is reliable | messages are lost, duplicated, cut off by partitions | `loss`, `duplicate`, `partition` |
# | latency is zero | a round trip across a data centre costs about half a millisecond, across an ocean 100 ms or more | `delay` |
# | bandwidth is infinite | big messages queue behind each other | keep messages small |
# | the network is secure | anyone on the path may read or forge | the autograder trusts no student process |
# | topology does not change | machines come, go and move | `crash`, `restart`, `heal` |
# | there is one administrator | other teams change configurations and versions under you | rolling upgrades, feature flags |
# | transport cost is zero | every message is encoded, copied, decoded | every message crosses a JSON codec |
# | the network is homogeneous | machines and links differ in speed and behaviour | the same lab runs on the simulator and on Ray |
#
# Two more belong on the list, though they are not among the classic eight: clocks on different
# machines disagree (`skew`) and a process can stop for a second and carry on as if nothing
# happened (`pause`, as in a long garbage-collection pause). A schedule is the story of an outage
# written as data:

# %% tags=["demo-schedule"]
print(labs.load("leader-isolated-then-crash").describe())

# %% [markdown]
# ## 6. "It's slow": latency along a request path
#
# Of all the reports you will get, "it's slow" is the hardest to act on: it says nothing about
# *where*. A user's request rarely touches a single machine. A search, a feed or a product page
# goes to a front end, which asks many backends and waits for all of them. Our version: `n1` is
# the front end and `n2` to `n5` are backends; each lookup takes a backend 2 to 4 ms. Then we make
# `n5` hiccup: 2% of its lookups take 100 to 200 ms instead, the way a garbage-collection pause or
# a slow disk would. What we measure is the **response time** the client sees, from sending the
# request to receiving the answer: the network both ways, the waiting, and the work. (Some authors
# keep "latency" for the waiting part only; here, as in most dashboards, latency means response
# time.)

# %% tags=["demo-percentiles"]
paths = {
    "healthy": labs.run(search.lab(), "sim", search.calm(8), seed=1),
    "n5 hiccups on 2% of lookups": labs.run(search.lab(hiccup={"n5": 0.02}), "sim", search.calm(8), seed=1),
}
table_of([{"request path": name, "requests": len(measure.latencies(run)),
           **measure.in_ms(measure.latency_stats(measure.latencies(run)))}
          for name, run in paths.items()],
         title="Client latency in milliseconds (4 clients, 8 s)")

# %% [markdown]
# **Look at** each column in turn. The median (p50) did not move: most users notice nothing. The
# mean rose by about 40%, which sounds mild. The 99th percentile went from under 10 ms to well
# over 100 ms: one request in a hundred is more than fifteen times slower, and the mean gave no
# hint of it.
#
# The picture of the slow run: in its dashboard (below the diagram), the latency histogram has a
# second hump far to the right, and the CDF climbs to 98% quickly and then crawls. Hover over
# the long operation bars above the client lanes to see which requests waited.

# %% tags=["picture-slow-path"]
TraceWidget(picture_of(labs.run(search.lab(hiccup={"n5": 0.02}), "sim", search.calm(1.5), seed=1),
                       "front end and four backends; n5 hiccups on 2% of lookups"))

# %% [markdown]
# ## 7. Percentiles, not averages
#
# Latencies are not bell-shaped. They pile up near a typical value and trail off in a long tail
# of slow cases (a lost packet resent, a pause, a cold cache), and a mean blends the two into a
# number that describes neither. A percentile answers a question someone actually asks: "p99 is
# 150 ms" means one request in a hundred waited at least that long. Report p50, p99 and p99.9
# (and the maximum), never the mean alone.
#
# The tail matters more than "1%" suggests, because requests multiply. A page that needs 50
# backend calls, each slow 1% of the time, is slow for 1 − 0.99⁵⁰ ≈ 40% of page views. Fan-out
# turns one machine's rare problem into everyone's common one. Below, *every* backend hiccups on
# 1% of lookups, and we vary how many backends each request asks:

# %% tags=["demo-fanout"]
rows = []
for backends in (1, 4, 16):
    run = labs.run(search.lab(backends=backends, hiccup=0.01), "sim", search.calm(6), seed=2)
    lat = measure.latencies(run)
    stats = measure.in_ms(measure.latency_stats(lat))
    rows.append({"backends asked": backends,
                 "slow requests (> 50 ms)": f"{search.slow_share(lat):.1%}",
                 "predicted 1 - 0.99^n": f"{1 - 0.99 ** backends:.1%}",
                 "p50 ms": stats["p50"], "p90 ms": stats["p90"], "p99 ms": stats["p99"]})
table_of(rows, title="Each backend slow on 1% of lookups")

# %% [markdown]
# **Look at** the p90 column: at 16 backends, one request in ten is slow, although every single
# backend is fast 99% of the time.
#
# Two practical rules follow. Percentiles cannot be averaged: the p99 of a cluster is not the
# mean of its machines' p99s, so keep the raw samples or histograms and compute the percentile
# over all of them. And the tail is what users remember, because a user makes many requests.
#
# **Try this:** `backends=50`, or `hiccup=0.001`.

# %% [markdown]
# ## 8. Partial availability: a partial answer now beats a full one late
#
# If the front end waits for every backend, it is exactly as slow as the slowest one and exactly
# as available as the least available one. Search engines do something smarter: they give the
# query a time budget, and when it runs out they answer with what they have. Missing a few
# results is better than making the user wait, or showing an error. The same front end with a
# 20 ms deadline, first with the hiccuping `n5`, then with backend `n3` crashed from 1 s to 3 s:

# %% tags=["demo-deadline"]
crash_n3 = labs.builder("n3-down").at(1.0).crash("n3").at(3.0).restart("n3").duration(4.0).build()
rows = []
for label, hiccup, schedule in (("n5 hiccups", {"n5": 0.02}, search.calm(8)), ("n3 down 1 s to 3 s", {}, crash_n3)):
    for deadline in (None, 0.02):
        run = labs.run(search.lab(hiccup=hiccup, deadline=deadline), "sim", schedule, seed=1)
        ops = measure.outcomes(run)
        stats = measure.in_ms(measure.latency_stats(measure.latencies(run)))
        rows.append({"trouble": label, "deadline": "none" if deadline is None else "20 ms",
                     "answers": ops["ok"], "partial answers": search.partial_answers(run),
                     "no answer (unknown)": ops["info"], "p99 ms": stats["p99"]})
table_of(rows, title="The same front end, waiting for all backends or answering by a deadline")

# %% [markdown]
# **Look at** the crash rows. Without a deadline, one backend of four going down makes the whole
# service unavailable for two seconds: every request waits for an answer that will never come.
# With the deadline, every request is answered, some with three quarters of the results. And in
# the hiccup rows, the deadline cuts p99 down to about the deadline itself.
#
# The picture of the crash without a deadline shows it: the red band on `n3`'s lane, and above the
# client lanes a row of grey bars (operations that never got an answer) for exactly as long.
# In the dashboard, the throughput drops to zero during the crash.

# %% tags=["picture-crash"]
TraceWidget(picture_of(labs.run(search.lab(clients=2), "sim", crash_n3, seed=1),
                       "n3 down from 1 s to 3 s, no deadline: the whole service stalls"))

# %% [markdown]
# Deciding *how* to fail partially takes thought about what users can tolerate. Take a chat
# service whose messages are spread over many storage machines. When some of those machines are
# down, it can hide the conversations they hold (some users see "try again later") or show every
# conversation with holes in it (everyone silently loses messages). Most people would rather
# wait than find their history quietly incomplete. And whatever happens to chat should not take
# down unrelated features, like profile photos: keeping **failure domains** apart (separate
# machines, queues, thread pools, budgets) is what makes partial availability possible.

# %% [markdown]
# ## 9. Metrics, not log lines
#
# When something is wrong in production you will be tempted to open the logs. Logs mislead in a
# particular way: what gets logged is what someone once decided to log, usually errors, so a rare
# but chatty error can fill the file while the real problem writes nothing. In the next run,
# backend `n2` writes alarming warnings on 5% of its lookups (a problem that costs it half a
# millisecond), while `n5` keeps hiccuping silently. A **metric** is one number per event, summed
# up: here, each backend's time per lookup, as percentiles.

# %% tags=["demo-metrics"]
noisy_run = labs.run(search.lab(hiccup={"n5": 0.02}, noisy={"n2": 0.05}), "sim", search.calm(8), seed=3)
print(next(e["text"] for e in noisy_run.trace if e["type"] == "log"))
table_of(search.backend_table_rows(noisy_run), title="Per backend: what its log says, what its metrics say")

# %% [markdown]
# **Look at** the two columns that point at a culprit: the log lines accuse `n2`; the p99
# column convicts `n5`. Metrics (latency percentiles, counters of requests and errors, rates of
# change) are how you learn what the system *does*, as opposed to what you believe it does, and
# how today differs from last week. Logs are still useful once metrics have told you where to
# look; write them for a reader who has never seen your code, and check every theory they
# suggest against the numbers before acting on it.

# %% [markdown]
# ## 10. Backpressure: what overload does to a queue
#
# A server has a fixed capacity: ours has one worker that takes about 10 ms per job, so at most
# about 100 jobs a second. Requests that arrive while it is busy wait in a queue. A queue is
# good at absorbing *bursts*; under *sustained* overload an unbounded queue only grows, and every
# job waits behind all the others.
#
# Then it gets worse. Clients do not wait forever: ours give up after 300 ms and a fresh client
# takes over with a new job. The job that was given up on stays in the queue, and the server,
# which cannot know, eventually spends 10 ms on it for nobody. Once the queue holds more than
# 300 ms of work, *every* job it serves has been abandoned: the server is busy all the time and
# useful none of the time. Below, the number of clients grows (each sends a job, waits for the
# answer, thinks 50 ms, sends the next), against three servers: the unbounded queue, a queue
# bounded at 5 waiting jobs (a full queue refuses a job at once with "busy"), and an unbounded
# queue that throws away, unserved, jobs that have waited more than 250 ms (a little less than
# the clients' patience).

# %% tags=["demo-queue-collapse"]
client_counts = [2, 4, 8, 16, 24, 32, 36, 40, 48, 64]
designs = {"unbounded queue": {}, "bounded queue (5)": {"limit": 5}, "drops jobs older than 250 ms": {"drop_after": 0.25}}
curves = {name: [(n, queues.goodput(labs.run(queues.lab(n, **options), "sim", queues.steady(), seed=1)))
                 for n in client_counts]
          for name, options in designs.items()}
LineChart("Useful work under growing load", "clients", "jobs answered ok per second", curves)

# %% [markdown]
# **Look at** the blue line. Up to 32 clients the unbounded server does fine, near its 100 jobs a
# second. A few clients more and it collapses to almost nothing, not gradually but at once. A
# client that times out comes back every 350 ms (300 ms of patience, 50 ms of thinking), so from
# about 35 clients on, clients that have given up alone send more than 100 jobs a second: the
# queue can only grow, waits exceed everyone's patience, and everything the server does is
# wasted. That is **congestion collapse**. The bounded queue (red) keeps serving about 95 jobs a
# second however many clients pile on; the excess gets a quick "busy" instead of a slow nothing.
# Throwing stale jobs away (green) works as well: the server spends its time only on jobs that
# someone still waits for.
#
# Here is the backlog over time with 48 clients, and what happened to the jobs:

# %% tags=["demo-queue-backlog"]
overload = {name: labs.run(queues.lab(48, **options), "sim", queues.steady(), seed=1) for name, options in designs.items()}
display(LineChart("Jobs inside the server, 48 clients", "seconds", "jobs waiting or in service",
                  {name: queues.backlog(run) for name, run in overload.items()}, step=True))
table_of([{"server": name, **measure.outcomes(run), "served for nobody": queues.wasted(run),
           "p99 ms (ok jobs)": measure.in_ms(measure.latency_stats(measure.latencies(run)))["p99"]}
          for name, run in overload.items()],
         title="48 clients for 5 s: ok, fail (refused or expired), unknown (timed out)")

# %% [markdown]
# **Look at** the "served for nobody" column: nearly all of the unbounded server's work went to
# clients that had already left.
#
# **Backpressure** is how a loaded component pushes back on its callers instead of silently
# absorbing more than it can do: bound every queue, refuse (or drop) what does not fit, and make
# the refusal cheap and visible (an error, and a counter in your metrics). The caller, in turn,
# must handle the refusal without making things worse: give up, degrade, or retry later, which
# is the next section. Without backpressure, an overloaded component fails slowly, and the
# components that wait on it fail too: that is how one slow service takes down the ones around
# it (a **cascading failure**).
#
# **Try this:** `limit=50` (a bounded queue that is too long is an unbounded queue); or
# `drop_after=0.3`, exactly the clients' patience: why must the server's deadline be shorter than
# the client's?

# %% [markdown]
# ## 11. Retries, timeouts and exponential back-off
#
# Messages get lost, so clients must resend; but *how* they resend matters. In this demo ten
# clients talk to a server that is less than half busy (about 200 requests a second of
# capacity). The network loses 1% of messages, which is why clients resend at all. At t = 1 s
# the server freezes for half a second, as in a long garbage-collection pause. We compare three
# clients: one that never resends (it waits up to 2 s, then gives up), one that resends every
# 30 ms, and one that waits 30 ms, then 60, 120, 240... up to a second (exponential back-off),
# with a little randomness (jitter).

# %% tags=["demo-retry-storm"]
policies = {"never resend": retries.never, "resend every 30 ms": retries.fixed,
            "exponential back-off": retries.backoff()}
storm = {name: labs.run(retries.lab(policy), "sim", retries.gc_pause(), seed=1) for name, policy in policies.items()}
display(table_of([retries.storm_row(name, run, pause_end=1.5) for name, run in storm.items()],
                 title="Ten clients; the server pauses from 1.0 s to 1.5 s; 6 s in all"))
LineChart("Copies of requests inside the server", "seconds", "requests waiting or in service",
          {name: retries.backlog(run) for name, run in storm.items()}, bands=[(1.0, 1.5, "pause")], step=True)

# %% [markdown]
# **Look at** the red line. During the pause, each fixed-timer client sends a copy every 30 ms;
# when the server wakes up it finds hundreds of copies and serves each one (it cannot tell a copy
# from a new request). While it works through them, answers take longer than 30 ms, so clients
# send yet more copies, faster than the server can serve them. The pause lasted half a second;
# the overload lasts until the end of the run. A system that stays broken after its trigger is
# gone is in a **metastable** failure, and retries are the classic cause. With back-off (green),
# clients go quiet while the server is silent and the backlog drains within a second or so. The
# client that never resends (blue) drains fastest, but look at its "unknown" column: every lost
# message cost it a two-second wait.
#
# The picture of a shorter run of the fixed-timer clients (3 s, and clients that give up after
# 1 s): **look at** the band under the diagram, which shows how full the server was (green,
# amber, red), and at the wall of `Call` arrows into `n1` after the pause. In the dashboard, the
# "messages" panel counts the copies, and the throughput never gets back to where it was.

# %% tags=["picture-retry-storm"]
TraceWidget(picture_of(labs.run(retries.lab(retries.fixed, timeout=1.0), "sim", retries.gc_pause(duration=3.0), seed=1),
                       "ten clients resending every 30 ms; the server pauses at 1 s"))

# %% [markdown]
# The rules that come out of this:
#
# - every request has a **timeout** (a request with no timeout can hold a resource forever);
# - retries **back off exponentially** up to a cap, and carry **jitter**, so that clients that
#   failed together do not come back in lock-step;
# - retries have a **budget**: a limit on how many, or on what share of traffic may be retries;
# - the server **sheds** what it cannot do in time (section 10), so that a burst of retries
#   meets a quick "busy" rather than a growing queue.
#
# **Try this:** `retries.backoff(jitter=False)`; a shorter pause (`retries.gc_pause(length=0.1)`);
# or twenty clients (`retries.lab(retries.fixed, clients=20)`).

# %% [markdown]
# ## 12. Capacity on the back of an envelope
#
# Before building, estimate. How many machines, how much memory, how many requests a second?
# The goal is the right order of magnitude in five minutes, so that you do not build something
# that must be replaced in three months. A few numbers are worth knowing by heart:
#
# | quantity | roughly |
# |---|---|
# | seconds in a day | 86,400, call it 10⁵ |
# | seconds in a month | 2.6 million |
# | read from main memory | 100 ns |
# | random read from an SSD | 100 µs |
# | round trip inside a data centre | 0.5 ms |
# | round trip across a continent / an ocean | 30–100 ms / 100–200 ms |
# | one machine, a simple web service | thousands of requests a second |
#
# A worked example. A service keeps the id of every item ever posted in memory, 8 bytes per id.
# A server has 64 GB; keep 8 GB for the operating system and 8 GB for serving requests: 48 GB,
# or about 48 × 10⁹ / 8 = 6 × 10⁹ ids per machine. At 500 million new items a day, one machine
# fills up in 12 days: the design must partition the ids from day one, or store fewer bytes per
# id.
#
# Traffic works the same way: 200 million requests a day is 200 × 10⁶ / 86,400 ≈ 2,300 a second
# on average; peaks are often 2 to 3 times the average, so plan for about 7,000. If one server
# handles 1,000 a second, you need 7, plus spares so that losing one (or a whole zone) at peak
# still leaves enough.
#
# Computers are faster than people think: a single ordinary server answering a simple request
# from memory can handle thousands of requests a second, and a data set that fits in one
# machine's memory makes most problems easy. Estimate before you distribute.
#
# One law holds for any system in a steady state, whatever its design: **Little's law**. The
# average number of requests inside a system equals the rate at which they arrive times the
# average time each spends inside: L = λ × W. Our queue server, measured from a run's trace:

# %% tags=["demo-littles-law"]
rows = []
for clients in (4, 8, 12):
    run = labs.run(queues.lab(clients), "sim", queues.steady(), seed=1)
    inside = measure.time_average(queues.backlog(run), 0.5, 5.0)
    times = queues.time_in_server(run, 0.5, 5.0)
    rate = len(times) / 4.5
    mean_time = sum(times) / len(times)
    rows.append({"clients": clients, "L: jobs inside (measured)": round(inside, 2),
                 "λ: jobs per second": round(rate, 1), "W: ms inside": round(mean_time * 1000, 1),
                 "λ × W": round(rate * mean_time, 2)})
table_of(rows, title="Little's law on the queue server (from 0.5 s to 5 s of each run)")

# %% [markdown]
# **Look at** the first and last columns: they agree. Little's law turns one measurement into
# another: if a service handles 2,000 requests a second at 50 ms each, about 100 are in flight
# at any moment, so it needs at least 100 threads, connections or slots to keep up. And notice
# the second column: past 8 clients, λ stops growing (the server is at capacity), so all the
# extra load turns into W, waiting.

# %% [markdown]
# ## 13. CAP, used as a critic
#
# The CAP theorem says that a system that keeps data on several machines cannot, while the
# network between them is split (a **P**artition), both answer every request (be **A**vailable)
# and have every read return the latest completed write (be **C**onsistent, in the strong sense
# called linearizability, chapter 2). Partitions are not something you choose to have; they
# happen. So the real choice is what each part of your system does *during* one: refuse, or
# answer with what it has.
#
# CAP is too coarse to design a system from, but it is a good critic: take a design, imagine the
# network splitting between any two of its parts, and ask what each part does. Here are two
# designs of a register (one value) kept on two machines, each machine serving the clients near
# it. In the **AP** design each machine answers from its own copy and sends its value to the
# other every 50 ms (the newest write wins). In the **CP** design every request goes through
# `n1`; `n2` forwards its clients' requests there and refuses them when it cannot reach `n1`.
# From 1 s to 3 s a partition leaves each machine alone with its own clients. A read is *stale*
# when it returns a value older than a write that had already finished; the last column is the
# verdict of the course's linearizability checker on the clients' whole history.

# %% tags=["demo-cap"]
cap_runs = {mode: labs.run(replicas.register_lab(mode), "sim", replicas.split_brain(), seed=1) for mode in ("ap", "cp")}
verdicts = {mode: check_linearizability(run.history, register()) for mode, run in cap_runs.items()}
table_of([{"design": mode.upper(), **measure.outcomes(run),
           "stale reads before": replicas.stale_reads(run, 0, 1),
           "during": replicas.stale_reads(run, 1, 3), "after": replicas.stale_reads(run, 3),
           "checker": verdicts[mode].verdict}
          for mode, run in cap_runs.items()],
         title="A register on two machines, split from 1 s to 3 s")

# %% [markdown]
# **Look at** the trade, in numbers. AP answered everything, and many of its reads during the
# partition returned old values. After the heal it is no better for a while: the two sides'
# histories are merged by "newest stamp wins", so writes that clients were told had succeeded
# are overwritten by the other side's, and reads go back in time. Notice also the few stale reads
# *before* the partition: copying every 50 ms means that, even on a healthy network, a write on
# one machine is invisible on the other for a moment. (That trade, consistency against speed
# when nothing is broken, is real even though CAP does not talk about it.) CP refused `n2`'s
# clients for the length of the partition (the `fail` column), and every answer it gave was
# correct.
#
# Neither is wrong in itself: a shopping cart may prefer AP, a bank balance CP. What is wrong is
# not knowing which one you built.
#
# The checker backs its "no" with a picture: the clients' operations on time lines, the longest
# order of them that a single register could have produced (numbered points), and in red the
# operation that cannot come next. Hover over the operations. Here its counterexample comes from
# *before* the partition: the copying lag alone is enough to break linearizability.

# %% tags=["demo-cap-checker"]
print(verdicts["ap"].explain().splitlines()[-1])
verdicts["ap"]

# %% [markdown]
# **A critique to try on your own.** A team puts a cache in front of its user database. To save a
# step, whatever the cache holds is also written back to the database when a user saves their
# profile. Walk through a partition between the cache and the database, then a cache machine that
# restarts with an old copy. What can a user see, and what can the database end up holding?
# (Users of such systems see their e-mail address or password "revert" to an old one.)

# %% [markdown]
# ## 14. More lessons from production, briefly
#
# A few more habits that experienced engineers pass on, which later chapters come back to:
#
# - **Avoid coordination.** Every time two machines must agree, the system gets slower and harder
#   to build. Systems scale out well when work can be split so that machines rarely need to talk:
#   partition the data so that each request touches one machine.
# - **Keep computation near its data.** A pointer dereference costs nanoseconds, a network hop
#   half a millisecond. Locality also works in time: identical requests arriving together can be
#   answered once.
# - **Choose your ids with care.** An id that carries the user (or the region) lets you partition
#   by it later; an id that is a bare counter forces a lookup service, and lets outsiders count
#   and crawl your data.
# - **Never write cached data back** to the source of truth: a cache holds copies of unknown age
#   (the critique above).
# - **Roll out infrastructure behind flags.** Move traffic to a new system a percentage at a time
#   (write to both, then read from the new one without using the result, then compare, then
#   switch), so that a bug shows up on 1% of traffic and is undone by turning a dial. It means
#   living with two versions at once, on purpose.
# - **Make it easy to operate.** A system is run for much longer than it is written: give
#   operators metrics, a safe place to try things, quick rollbacks, and code simple enough for a
#   newcomer to change.

# %% [markdown]
# ## Exercises
#
# Five small functions. Write each one in the cell marked `YOUR CODE HERE` (in the instructor's
# copy, the solution), then run the test cell under it. The tests run your code on simulated
# clusters where that makes sense.

# %% [markdown]
# ### Exercise 1: a percentile (2 points)
#
# Write `percentile(samples, q)`: the **nearest-rank** `q`-th percentile (0 < q ≤ 100) of a list
# of numbers, in any order: sort them, and return the value at rank ⌈q/100 × n⌉ (ranks start
# at 1). Do not change the caller's list.

# %% nbgrader={"grade": false, "grade_id": "percentile", "locked": false, "schema_version": 3, "solution": true, "task": false}
import math


def percentile(samples, q):
    ### BEGIN SOLUTION
    xs = sorted(samples)
    if not xs:
        raise ValueError("no samples")
    rank = max(1, math.ceil(q / 100 * len(xs)))
    return xs[rank - 1]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_percentile", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from labs.runtime.trace import percentile as reference_percentile

data = [5, 1, 4, 2, 3]
assert percentile(data, 50) == 3
assert data == [5, 1, 4, 2, 3], "percentile() must not reorder the caller's list"
assert percentile(list(range(1, 101)), 99) == 99
assert percentile(list(range(1, 101)), 100) == 100
assert percentile([7.5], 99.9) == 7.5
slow = measure.latencies(paths["n5 hiccups on 2% of lookups"])
for q in (50, 90, 99, 99.9):
    assert percentile(slow, q) == reference_percentile(sorted(slow), q), f"p{q} of the slow path's latencies"
print("p99 of the slow path:", round(percentile(slow, 99) * 1000, 1), "ms")

# %% [markdown]
# ### Exercise 2: an exponential back-off schedule (3 points)
#
# Write `backoff_delay(attempt, base, cap)`: how long to wait after the `attempt`-th send
# (1 for the first) before sending again: `base` after the first send, twice that after the
# second, and so on, doubling each time but never more than `cap`. The test then hands your
# function, with jitter added, to the retrying clients of section 11 and checks that the server
# recovers from its pause.

# %% nbgrader={"grade": false, "grade_id": "backoff", "locked": false, "schema_version": 3, "solution": true, "task": false}
def backoff_delay(attempt, base, cap):
    ### BEGIN SOLUTION
    return min(cap, base * 2 ** (attempt - 1))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_backoff", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert [backoff_delay(a, 0.03, 1.0) for a in range(1, 8)] == [0.03, 0.06, 0.12, 0.24, 0.48, 0.96, 1.0]
assert backoff_delay(1, 0.5, 0.2) == 0.2
assert backoff_delay(40, 0.01, 2.0) == 2.0


def my_policy(attempt, rng):
    delay = backoff_delay(attempt, 0.03, 1.0)
    return rng.uniform(delay / 2, delay)


mine = labs.run(retries.lab(my_policy), "sim", retries.gc_pause(), seed=1)
row = retries.storm_row("your back-off", mine, pause_end=1.5)
print(row)
assert row["drained after pause (s)"] is not None and row["drained after pause (s)"] < 3, "the backlog should drain"
assert row["copies per answer"] < 3, "too many copies per answer: is the delay growing?"

# %% [markdown]
# ### Exercise 3: how often does a fan-out request hit a slow backend? (2 points)
#
# Write `slow_request_share(p, backends)`: the probability that a request which asks `backends`
# backends, each independently slow with probability `p`, meets at least one slow backend. The
# test compares your formula with a simulated front end.

# %% nbgrader={"grade": false, "grade_id": "fanout", "locked": false, "schema_version": 3, "solution": true, "task": false}
def slow_request_share(p, backends):
    ### BEGIN SOLUTION
    return 1 - (1 - p) ** backends
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fanout", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert math.isclose(slow_request_share(0.01, 1), 0.01)
assert slow_request_share(0.0, 100) == 0
assert math.isclose(slow_request_share(0.01, 100), 0.6339676587267709)
assert math.isclose(slow_request_share(0.5, 2), 0.75)
simulated = labs.run(search.lab(backends=8, hiccup=0.02), "sim", search.calm(6), seed=4)
measured = search.slow_share(measure.latencies(simulated))
print(f"simulated: {measured:.1%}, your formula: {slow_request_share(0.02, 8):.1%}")
assert abs(measured - slow_request_share(0.02, 8)) < 0.04

# %% [markdown]
# ### Exercise 4: how many servers? (2 points)
#
# Write `servers_needed(requests_per_day, peak_factor, per_server, spares)`: the number of
# servers needed to serve the **peak** rate (the average rate over a day of 86,400 seconds, times
# `peak_factor`) when each server handles `per_server` requests a second, rounded up to a whole
# server, plus `spares`.

# %% nbgrader={"grade": false, "grade_id": "capacity", "locked": false, "schema_version": 3, "solution": true, "task": false}
def servers_needed(requests_per_day, peak_factor, per_server, spares):
    ### BEGIN SOLUTION
    peak = requests_per_day / 86_400 * peak_factor
    return math.ceil(peak / per_server) + spares
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_capacity", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert servers_needed(200_000_000, 3, 1_000, 1) == 8
assert servers_needed(86_400, 1, 1, 0) == 1
assert servers_needed(86_400 * 1_000, 1, 1_000, 0) == 1
assert servers_needed(86_400 * 1_001, 1, 1_000, 2) == 4
assert servers_needed(0, 3, 1_000, 2) == 2

# %% [markdown]
# ### Exercise 5: which writes reached only one machine? (3 points)
#
# Back to section 2. Write `half_done_writes(trace)`: given the trace of a run of the
# write-to-both lab (a list of events, as in `run.trace`), return the set of writes that were
# delivered to exactly one of the two machines. Name a write by `(client, req)`: the node that
# sent the `Put` and the `req` field of its body. A write may have been sent several times (the
# resending client): it counts as reaching a machine if any copy was delivered there.
#
# Events you need: `{"type": "send", "node": sender, "dst": ..., "id": ..., "msg": "Put", "body":
# {"key": ..., "value": ..., "req": ...}}` and `{"type": "deliver", "node": receiver, "id": ...}`
# (the `id` of a delivery is the `id` of the send).

# %% nbgrader={"grade": false, "grade_id": "half_done", "locked": false, "schema_version": 3, "solution": true, "task": false}
def half_done_writes(trace):
    ### BEGIN SOLUTION
    writes = {}
    for e in trace:
        if e["type"] == "send" and e["msg"] == "Put":
            writes[e["id"]] = (e["node"], e["body"]["req"])
    landed = {w: set() for w in writes.values()}
    for e in trace:
        if e["type"] == "deliver" and e["id"] in writes:
            landed[writes[e["id"]]].add(e["node"])
    return {w for w, machines in landed.items() if len(machines) == 1}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_half_done", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
tiny = [
    {"t": 0.0, "type": "send", "node": "c1", "dst": "n1", "id": 1, "msg": "Put", "body": {"key": "x", "value": 1, "req": 7}},
    {"t": 0.0, "type": "send", "node": "c1", "dst": "n2", "id": 2, "msg": "Put", "body": {"key": "x", "value": 1, "req": 7}},
    {"t": 0.0, "type": "drop", "node": "c1", "src": "c1", "dst": "n2", "id": 2, "reason": "loss"},
    {"t": 0.01, "type": "deliver", "node": "n1", "src": "c1", "id": 1},
    {"t": 0.01, "type": "send", "node": "n1", "dst": "c1", "id": 3, "msg": "PutOk", "body": {"key": "x", "req": 7}},
    {"t": 0.02, "type": "send", "node": "c2", "dst": "n1", "id": 4, "msg": "Put", "body": {"key": "x", "value": 2, "req": 7}},
    {"t": 0.02, "type": "send", "node": "c2", "dst": "n2", "id": 5, "msg": "Put", "body": {"key": "x", "value": 2, "req": 7}},
    {"t": 0.03, "type": "deliver", "node": "n2", "src": "c2", "id": 5},
    {"t": 0.04, "type": "deliver", "node": "n1", "src": "c2", "id": 4},
]
assert half_done_writes(tiny) == {("c1", 7)}
assert half_done_writes([]) == set()
for retry, seed in ((False, 8), (False, 3), (True, 5)):
    run = labs.run(replicas.write_both_lab(retry, clients=2), "sim", replicas.lossy(0.2), seed=seed)
    expected = {(client, req) for (_, _, client, req), where in replicas.reached(run).items() if len(where) == 1}
    assert half_done_writes(run.trace) == expected, f"retry={retry}, seed={seed}"
print("half-done writes in the run of section 2:", sorted(half_done_writes(one_try.trace)))

# %% [markdown]
# ## Further reading
#
# - Jeff Hodges, *Notes on Distributed Systems for Young Bloods* (2013): the production lessons
#   this chapter follows (failure is partial, backpressure, percentiles, metrics, capacity, CAP as
#   a critique).
# - Martin Kleppmann, *Designing Data-Intensive Applications* (O'Reilly, 2017), chapters 1, 8 and
#   9: reliability, scalability, faults, and what consistency costs.
# - Brittany Ellich, notes on distributed systems (2022): faults against failures, chaos testing,
#   latency against response time, operability.
# - Martin Cartledge, *Intro to Distributed Systems* (2023): why distribute, and a road map
#   through MIT 6.824, the course this one's arc follows.
# - Peter Deutsch and others, *The Eight Fallacies of Distributed Computing* (Sun Microsystems,
#   1994–97); Arnon Rotem-Gal-Oz, *Fallacies of Distributed Computing Explained* (2006).
# - E. A. Akkoyunlu, K. Ekanadham and R. V. Huber, *Some Constraints and Tradeoffs in the Design
#   of Network Communications* (1975), the first statement of the generals' problem; Jim Gray,
#   *Notes on Data Base Operating Systems* (1978), which gave it its name.
# - Jeffrey Dean and Luiz André Barroso, *The Tail at Scale* (Communications of the ACM, 2013).
# - Nathan Bronson and others, *Metastable Failures in Distributed Systems* (HotOS 2021).
# - Eric Brewer, *CAP Twelve Years Later: How the "Rules" Have Changed* (IEEE Computer, 2012).
