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
# # Chapter 4: Raft, or how five servers keep one history through crashes and partitions
#
# The server of chapter 2 executed every call exactly once, as long as it lived. When it dies the
# service stops, and when its disk dies the data is gone. The cure is obvious: keep a copy of the
# service on several machines. Keeping the copies *identical* is not obvious at all, when any
# machine may stop at any moment, messages go missing, and the network may cut the cluster in
# two. Several machines that must agree on something, despite all that, is the problem called
# **consensus**, and it has a bad reputation: every decision that needs two machines to agree
# makes a system harder to build, and most agreement protocols invented on the spot are wrong in
# some corner that shows up a year later in production.
#
# Raft, by Diego Ongaro and John Ousterhout (2014), was designed to be understood: the same
# guarantees as Paxos, the classic, split into pieces that can be learned one at a time. This
# chapter builds it up in that order, and shows each rule by running a cluster that follows it,
# and often one that breaks it.
#
# The demos run the Raft lab's servers (`labs/raft/node.py`) in the simulator. In the course's
# copy those are the reference solution; in your copy of the course they are your own code, so
# once your lab works, these demos run *your* Raft. Every picture has two extra time lines under
# the messages, drawn from what the lab's test harness records after every step of every server:
#
# - **term and role**: one bar per stretch of time a server spent in one term and one role. The
#   colour is the term, so a new term sweeping across the cluster is a change of colour; the
#   leader's bar is the darkest, a follower's pale (it names the leader of its term once one is
#   elected), a candidate's in between, and a crashed server's grey. A diamond marks an election.
# - **commit index**: for each server, a line showing the highest log index it has applied so
#   far. Lines that climb together are a healthy cluster.
#
# As in the earlier chapters, **Look at** says what to notice and **Try this** what to change.
# The chapter ends with five exercises checked by code, and prepares you for Lab 4, where you
# build Raft.
#
# *Contents:* 1. replicated state machines · 2. why majorities · 3. terms and elections ·
# 4. randomized timeouts · 5. the log and log matching · 6. a leader cut off · 7. when is an entry
# committed? (Figure 8) · 8. what must be on disk before answering · 9. crash and recovery ·
# 10. snapshots · 11. clients · summary · exercises · further reading

# %%
import sys
from pathlib import Path

try:
    import course.demos  # noqa: F401  (installed with the project: pip install -e .)
except ImportError:  # a checkout that was not installed: use the repository's own copy
    sys.path.insert(0, str(Path.cwd().resolve().parent))

from IPython.display import display

from course.demos import raft_demos as rd
from course.demos import raft_search as rsearch
from course.demos.charts import table_of
from labs.pictures import TraceWidget, path_picture, picture_of
from labs.raft.node import ELECTION_TIMEOUT, HEARTBEAT

# %% [markdown]
# ## 1. Replicated state machines
#
# Take any service whose state changes only through commands: a key-value store (`put x 3`,
# `append y "a"`), a lock server, a bank ledger. If the service is **deterministic** (the same
# commands from the same starting state always give the same state and the same answers), then
# two copies that execute the same commands in the same order stay identical forever. So the
# problem of keeping replicas identical becomes a smaller one: agree on a **log**, a numbered
# list of commands, and have every replica execute it in index order.
#
# That is the design of Raft and of most systems built like it (etcd, Consul, CockroachDB,
# TiKV, Kafka's KRaft). Each server has three parts: the log, the state machine (the service
# itself), and the consensus module that fills the log. One server acts as **leader**: clients
# send it their commands, it appends them to its log and sends them to the others; once an entry
# is safe (*committed*, a word this chapter will make precise), every server hands it to its state
# machine. In the lab, a leader's `start(command)` appends a command, and a server calls
# `apply(index, term, command)` for each committed entry, in order. The lab's checker then asks
# the one question that matters: did any two servers apply different commands at the same index?
#
# Determinism is the state machine's side of the bargain: a command that reads the clock or draws
# a random number must carry the value with it, chosen once by whoever created it, or the
# replicas drift apart while agreeing perfectly on the log.
#
# Here are five servers and three clients on a network where messages take 1 to 10 ms, and
# nothing fails:

# %% tags=["demo-election"]
first = rd.run(rd.quiet(), seed=1)
display(rd.terms(first))
ends = rd.timeline(first)
table_of([{"server": n, "applied up to index": ends.applied_at(n, ends.end)} for n in ends.servers],
         title=f"Five servers after {ends.end:.0f} s, nothing failing",
         note=f"same command at every index on every server: {rd.verdicts(first)['state-machine-safety']}")

# %% [markdown]
# **Look at** the first table: one server's timer fired first, it stood for election in term 1,
# the four others voted for it, and it has led ever since. In the picture, the first few hundred
# milliseconds are the election: `RequestVote` arrows from the candidate, replies back. After
# that, `AppendEntries` messages go out from the leader every 100 ms even when there is nothing
# to send (they are its heartbeat), and the five commit-index lines climb together, a few
# milliseconds apart. Hover over a bar or a line to read it; drag across the strip under the
# diagram to zoom into the election.

# %% tags=["picture-election"]
TraceWidget(picture_of(first, "five servers, nothing fails, seed 1"))

# %% [markdown]
# ## 2. Why majorities
#
# How many servers must hold an entry before it counts? If the answer is *all of them*, one dead
# server stops the cluster. If it is *any one*, two halves of a cut network each decide on their
# own and their logs disagree forever (a *split brain*). Raft's answer, like Paxos's, is **a
# majority**: more than half of the servers. Any two majorities of the same cluster have at least
# one server in common, and that server carries what it knows from one decision to the next:
#
# - it votes at most once per term, so two candidates cannot both collect a majority for the
#   same term;
# - it holds every entry the majority committed, and a future leader needs its vote, so the
#   future leader cannot be chosen without meeting someone who has those entries (section 7
#   makes that precise).
#
# A cluster of 2f + 1 servers keeps working with f of them down or cut off: three servers survive
# one failure, five survive two. In chapter 0's words, replication keeps a *fault* (a server
# down) from becoming a *failure* (the service down), up to that many faults at once. An even
# number buys nothing: four servers need three for a majority and so survive one failure, like
# three, while making every write wait for one more reply.
#
# The price is paid in two currencies. Every write waits for the slowest server of the fastest
# majority. And a minority does nothing at all: chapter 0's CAP demo, for real. Here five
# servers are split two and three, then into groups none of which is a majority, then healed
# (the clients can reach every server throughout):

# %% tags=["demo-majority"]
split = rd.run(rd.majority_story(), seed=2)
rd.phases(split, rd.MAJORITY_PHASES)

# %% [markdown]
# **Look at** the second phase: the first leader ended up on the side of two. The three on the
# other side elected a leader of a new term and went on committing; the old leader still believed
# it led (nothing had told it otherwise), accepted the commands of the clients that came to it,
# and committed none of them. In the third phase no group holds three servers, so nothing is
# committed anywhere, though clients keep sending. Safety does not depend on timing: no message
# delay, however long, lets a minority commit. Progress (*liveness*) does: it needs a connected
# majority and a network that delivers within the election timeouts. Safety always, liveness when
# the network behaves: that is the deal every consensus protocol offers.
#
# **Try this:** `seed=1` puts the first leader on the side of three. Which phases change?

# %% [markdown]
# ## 3. Terms and elections
#
# Raft divides time into **terms**, numbered 1, 2, 3... Each term starts with an election, and
# has at most one leader (some terms end with none). Every server stores the highest term it has
# seen, and every message carries its sender's term, which makes terms a logical clock:
#
# - a server that sees a higher term than its own adopts it at once and becomes a follower (a
#   leader that sees one learns that it has been replaced);
# - a request from an older term is refused, and the answer carries the newer term back.
#
# A server is in one of three roles. A **follower** only answers. A **candidate** asks for votes.
# A **leader** takes commands from clients and sends `AppendEntries` to everyone, with new entries
# or empty, as a heartbeat. A follower that hears nothing from a leader for an *election timeout*
# becomes a candidate: it moves to the next term, votes for itself and sends `RequestVote` to
# every other server. Each server grants one vote per term, to the first candidate that asks and
# qualifies (section 7 adds the qualification). Then one of three things happens: the candidate
# gathers a majority and leads; or it hears from a leader of its term or a later one and follows;
# or its timeout expires with no winner, and it starts over in the next term.
#
# The run of section 2 had a long stretch without any majority. Its elections, term by term:

# %% tags=["demo-terms"]
rd.terms(split, limit=40)

# %% [markdown]
# **Look at** the terms nobody won. A server cut off alone keeps timing out, moving to the next
# term and asking for votes nobody can give. When the network heals, those higher terms unseat
# whoever leads: the first message the leader receives from such a server carries a term above its
# own, and it steps down, and a new election follows. The returning server does not win just by
# having counted higher (a vote request from a server whose log is behind is refused), but it
# does cost the cluster an election; Raft's *pre-vote* extension, which the lab does not ask for,
# has a server check that it could win before it moves to a new term.

# %% [markdown]
# ## 4. Randomized timeouts
#
# If all followers time out at the same moment, they all become candidates, each votes for
# itself, nobody gathers a majority, and they all time out together again: a **split vote**,
# repeated. Raft breaks the symmetry with chance: each server draws its election timeout at
# random from a range, afresh every time. Usually one server's timer fires well before the
# others', and its `RequestVote` reaches them before they wake up. The table runs five servers
# and no clients for five seconds, twenty seeds for each range:

# %% tags=["demo-split-votes"]
ranges = [(0.45, 0.45), (0.44, 0.46), (0.4, 0.5), (0.3, 0.6), (0.15, 0.75)]
table_of([rd.first_elections(lo, hi) for lo, hi in ranges],
         title="The first election, 20 seeds per range of election timeouts, 1-10 ms messages")

# %% [markdown]
# **Look at** the first row: with the same timeout everywhere, not one of twenty clusters ever
# elects a leader. A window of 20 ms, not much wider than the message delays, usually works but
# sometimes needs several terms. From 100 ms up, the first candidate wins almost every time.
#
# The range is a trade. Its low end must be well above the leader's heartbeat interval, or
# followers stand for election while their leader is alive and well; its width must be large
# against the time a `RequestVote` takes to arrive; and its high end is roughly how long the
# cluster stays without a leader after one crashes. The paper states the rule as *broadcast time
# ≪ election timeout ≪ mean time between failures*. The lab's values:

# %% tags=["demo-lab-timeouts"]
print(f"labs/raft/node.py: ELECTION_TIMEOUT = {ELECTION_TIMEOUT} s, HEARTBEAT = {HEARTBEAT} s")

# %% [markdown]
# **Try this:** `rd.first_elections(0.02, 0.04)`, a range barely above the message delays.

# %% [markdown]
# ## 5. The log, and log matching
#
# Each log entry holds a command and the **term** in which a leader created it; its position is
# its **index**. A leader never rewrites or deletes entries of its own log; it only appends.
# Followers are different: their logs are whatever leaders have sent them, and a follower that
# was away may hold entries that no leader will keep.
#
# The leader's `AppendEntries` carries new entries together with the index and term of the entry
# just *before* them (`prev_log_index`, `prev_log_term`). A follower accepts only if its own log
# has an entry at that index with that term; then it deletes whatever it holds *that conflicts*
# with the new entries (same index, another term) and everything after it, and appends what it
# lacks. If the check fails it says no, and the leader tries again from further back.
#
# From this one check follows the **Log Matching Property**: if two logs hold an entry with the
# same index and term, they hold the same command there and are identical in every entry before
# it. The first half holds because a leader creates at most one entry per index in its term. The
# second holds by induction: each entry was accepted only after the entry before it matched. So a
# leader never needs to compare whole logs: finding the last index where they agree is enough,
# and everything after it on the follower can be replaced.
#
# Two details the lab's tests insist on. Backing up one entry per round trip is slow after a long
# partition, so a follower that says no also says the term of its conflicting entry and where that
# term starts in its log, and the leader skips the whole term at once (*fast backup*). And a
# follower must cut its log only at a real conflict: an `AppendEntries` that arrives late (the
# network reorders) may carry fewer entries than the follower already has from a newer one, and
# cutting the log to its length would throw away entries the follower has acknowledged, perhaps
# committed ones.

# %% [markdown]
# ## 6. A leader cut off
#
# Now the leader loses touch with the other servers at 1.5 s, for two seconds. Clients c1 and c2
# are cut off with it and keep sending it commands; c3 is with the other four servers.

# %% tags=["demo-cut-off"]
cut = rd.run(rd.leader_cut_off(), seed=1)
old, new = rd.leader_at(cut, 1.49), rd.leader_at(cut, 3.49)
print(f"leading before the cut: {old}; leading just before the heal: {new}; "
      f"acting as leaders at 3.4 s: {rd.timeline(cut).leader_at(3.4)}")
rd.fates(cut, rd.accepted(cut, old, 1.5, 3.5))

# %% [markdown]
# **Look at** the printed line: for two seconds two servers act as leader, the old one of the old
# term and a new one of a newer term, elected by the other four. The old leader does not know; no
# message can reach it to tell it. It accepted c1's and c2's commands, and the table shows what
# became of them: other commands, entries of the new term, were committed at their indexes, and
# the clients had to submit theirs again.
#
# In the picture, the two dark bars overlap while the partition lasts. The old leader's
# commit-index line stays flat: it sends `AppendEntries` that reach nobody, so no entry of its can
# reach a majority. When the partition heals, the first message from the new leader carries the
# newer term; the old leader steps down (its bar turns pale), and its uncommitted entries are
# replaced.

# %% tags=["picture-cut-off"]
TraceWidget(picture_of(cut, "the leader and two clients cut off from 1.5 to 3.5 s, seed 1"))

# %% [markdown]
# How the new leader repairs the old one's log: it starts from where it believes the follower
# is, and the consistency check of section 5 does the rest.

# %% tags=["demo-repair"]
rd.repair(cut, new, old, 3.5, limit=4)

# %% [markdown]
# **Look at** the first message: the entry just before the new ones is one both logs hold with
# the same term (the last entry the old leader had replicated before the cut), so the old leader
# accepts, and the new entries replace its own at the same indexes.
#
# The lesson reaches beyond Raft: **a node can never be sure it is still the leader**. A
# partition, a long garbage-collection pause or a frozen virtual machine can make a leader
# disappear without noticing, and come back acting on authority it lost meanwhile. Raft keeps
# that harmless for writes (the old leader cannot commit), but not automatically for reads: an old
# leader that answers a read from its own state serves stale data. Section 11 comes back to that.

# %% [markdown]
# ## 7. When is an entry committed? Figure 8
#
# An entry is **committed** once it is certain to stay in the log of every future leader; only
# then may servers apply it, since an applied command cannot be taken back. For an entry the
# leader created in its current term, being stored on a majority is enough, thanks to a rule of
# elections we have not used yet: a server refuses its vote to a candidate whose log is **less up
# to date** than its own. Up to date means: the last entry's term is higher, or the terms are
# equal and the log is at least as long. A candidate needs a majority of votes, that majority
# shares a server with the majority that holds the entry, and that server votes only for a log at
# least as up to date as its own, which (with log matching) holds the entry. Every new leader
# therefore has every committed entry (*leader completeness*).
#
# But this argument covers only entries of the leader's **current** term. An entry from an earlier
# term can be stored on a majority and still be overwritten later. The Raft paper shows how in its
# Figure 8, with five servers S1 to S5. The demo plays the figure out with crashes and
# partitions; n2, n3, n4, n5 and n1 play S1 to S5:
#
# - **(a)** n2 leads term 1 and its entries reach everyone; then the others crash one after
#   another, so that its last entry reaches n3 only: two servers of five, not committed.
# - **(b)** n2 and n3 crash; n1, n4 and n5 come back, cut off from the clients, and elect n1 (its
#   log is the longest of the three).
# - **(c)** n1 stays with the clients only: it accepts a new command *at the same index*, as an
#   entry of its own term, and cannot replicate it.
# - **(d)** n1 crashes; n2 comes back with n4 and n5, is elected (its log is the most up to date
#   there), and copies its old entry to them. Three servers of five hold it now. Is it committed?
# - **(e)** n2 crashes; n1 comes back and everything heals. n1's last entry has a later term than
#   anyone else's, so it can win an election, and as leader it replaces the entry at that index
#   with its own.
#
# Two clusters play it, on the same schedule and seed: the lab's servers, and the same servers
# with the tempting commit rule "committed once a majority holds it", `rd.counts_replicas`.

# %% tags=["demo-figure8"]
story = rd.figure8()
reference = rd.run(story, seed=1, clients=1, think=0.25)
counting = rd.run(story, seed=1, clients=1, think=0.25, node=rd.with_commit_rule(rd.counts_replicas))
table_of([{"commit rule": name, "leaders (term: server)": str(rd.timeline(r).leaders), **rd.verdicts(r)}
          for name, r in [("the lab's", reference), ("counts replicas", counting)]],
         title="The Figure 8 story, seed 1: the lab's safety checks")

# %% [markdown]
# **Look at** the second row. The checks found two things: a leader committed an entry of an
# earlier term by counting its copies (step d), and, as a result, two servers applied different
# commands at the same index (step e). Here is that index, step by step, in both runs:

# %% tags=["demo-figure8-index"]
contested = rd.contested_index(reference)
display(rd.index_story(counting, contested))
rd.index_story(reference, contested)

# %% [markdown]
# **Look at** the first table: in step (d) n2 counts three copies of its old entry and applies it,
# and so do n4 and n5 when they hear the new commit index. In step (e) n1 replaces the entry and
# applies its own command there: the servers' state machines now disagree forever. In the second
# table nobody applies anything at that index until n1's entry is committed in step (e), and then
# everybody applies the same one. In the lab's run, n2 in step (d) never commits its old entry: it
# has no entry of its own term to count (the clients cannot reach it), and it must not count the
# old one.
#
# Hence Raft's rule: **a leader advances its commit index only by counting replicas of an entry of
# its current term.** When such an entry is committed, every entry before it is committed too, by
# log matching, including the old ones. That is also why real implementations have a new leader
# append an empty entry (a *no-op*) as soon as it is elected: without one, a leader with no client
# traffic cannot commit anything, and does not even learn how far its predecessors had committed.
# The lab's reference does not, and the demo's step (d) shows the consequence.
#
# In the picture of the buggy run, find step (d) around 6 s: n2's commit-index line jumps while its
# bar is that of a new term with no entries of its own.

# %% tags=["picture-figure8"]
TraceWidget(picture_of(counting, "Figure 8 with the commit rule 'counts replicas', seed 1"))

# %% [markdown]
# **Try this:** after exercise 4, run the story with your rule:
# `rd.verdicts(rd.run(story, seed=1, clients=1, think=0.25, node=rd.with_commit_rule(commit_index)))`.

# %% [markdown]
# ### Would a test have found it?
#
# The story above was written by hand, by someone who knew which server to crash and when. Would
# testing find the bug without knowing the story? Two hunters go after the rule that counts
# replicas, on three servers and one client, told nothing about Figure 8: the lab's random crash
# schedule (the leader crashes every 0.8 s, another server every 1.3 s), one run per seed; and the
# lab's search test `C-search-figure8`, which tries every order of the first three steps, then
# thousands of random walks through deliveries, timeouts and crash-restarts, each walk the same
# every time it runs (the runtime's page, *Searching every order*, says how).

# %% tags=["demo-search"]
counts = rd.with_commit_rule(rd.counts_replicas)
found = rsearch.search(counts)
table_of([rsearch.random_hunt(counts), rsearch.summary(found)],
         title="Hunting the Figure 8 bug on three servers, told no story")

# %% [markdown]
# **Look at** the last column. Both hunters break the rule. But a random run that breaks it is
# ten seconds of crashes and hundreds of messages, and nothing in it says which of them mattered.
# The search's walk was longer than it needed to be too; then the search left out, one at a time,
# every step the walk could do without and still break the rule. What remains is the story and
# nothing else:

# %% tags=["demo-search-path"]
rsearch.steps(found)

# %% [markdown]
# **Look at** steps 6 to 17. n2 leads term 1 and hands n1 the client's command `v1` (step 9); n1
# stores it, but its answer is still in flight when n1 stops hearing from n2. n1 times out (step 10 only finds that n2
# was heard from lately, and waits again; step 11 is the real timeout), wins term 2 with n3's vote,
# learns that n3 lacks index 1 (step 15), sends it (16), and on n3's answer counts two copies of a
# term-1 entry and commits it (17). No crash was needed: a leader that merely lost touch is
# enough. The lab's rule would have waited for an entry of term 2. In the picture, one step is
# one millisecond, and the red line is step 17:

# %% tags=["picture-search"]
TraceWidget(path_picture(found, "The rule 'counts replicas', found by the search"))

# %% [markdown]
# **Try this:** run the search on the lab's own rule, `rsearch.search(rd.RaftNode)`: every one of
# its walks ends with nothing broken (and so does your node, once exercise 4 is right). From a
# terminal, `python -m autograder search raft C-search-figure8 --impl labs/raft/node.py` runs the
# same search on your whole node.

# %% [markdown]
# ## 8. What must be on disk before answering
#
# A server that crashes and restarts must keep some promises it made before the crash, or the
# arguments of the previous sections fall apart. Raft writes three things to stable storage:
#
# | state | why it must survive a crash |
# |---|---|
# | the current term | so that the server never goes back to a term it has left, and never helps an old leader |
# | the vote of this term | so that it never votes twice in one term: two votes could make two leaders of the same term |
# | the log | so that an entry it acknowledged stays on it: the leader counted it toward a majority |
#
# Everything else is rebuilt after a restart: the commit index is learned again from the leader,
# the state machine is rebuilt by applying the log from the start (or from a snapshot, section
# 10), and a new leader starts its bookkeeping of followers afresh.
#
# **Before answering** is the crucial part: a vote or an acknowledgement is a promise, and the
# promise must be on disk before the message that makes it leaves, or a crash between the two
# breaks it. In this course's runtime a handler's writes to `self.storage` are saved before any
# message the handler sent leaves the node (on both runtimes), so writing to storage anywhere in
# the handler that answers is enough. A real server calls `fsync` before replying, and since a
# disk write costs milliseconds, it writes many entries at once (*group commit*).
#
# The demo: three servers. n1 is elected in term 1, with n2's vote. Then n1 is cut off, and n2
# crashes and comes back together with n3, either with its disk or with an empty one (as if it had
# kept its vote only in memory):

# %% tags=["demo-forgetful-voter"]
rows = []
for disk in ("keep", "lose"):
    voter = rd.run(rd.forgetful_voter(disk), seed=1, nodes=3)
    rows.append({"n2 restarts with": f"disk {disk}",
                 "elections (server, term)": ", ".join(f"{e.node} term {e.term}" for e in rd.timeline(voter).elections),
                 "election safety": rd.verdicts(voter, ["election-safety"])["election-safety"]})
table_of(rows, title="A voter that restarts: does it remember its vote?")

# %% [markdown]
# **Look at** the second row: n2 forgot it had voted for n1 in term 1 and voted again in term 1,
# so the cluster has two leaders of the same term. With its disk, n2 refuses (it already voted in
# term 1), and n3 has to move on to term 2 to be elected, as the rules say. Losing the log has
# worse effects still: an entry counted as committed can vanish from the majority that held it.
# The lab's part C crashes servers at random moments, and checks both.

# %% [markdown]
# ## 9. Crash and recovery
#
# With the right state on disk, a crash is an ordinary event. Here the leader crashes at 1.5 s and
# restarts with its disk at 3 s:

# %% tags=["demo-crash"]
crash = rd.run(rd.leader_crash(), seed=1)
crashed = rd.leader_at(crash, 1.49)
display(rd.terms(crash))
rd.recovery(crash, crashed)

# %% [markdown]
# **Look at** the elections: within one election timeout of the crash, the other four elected a new
# leader of the next term. The recovery table shows the crashed server coming back as a follower
# of that newer term (its disk kept its term, vote and log; its role was not kept, and need not
# be), and catching up at once: it applies its whole log again, from index 1, as soon as the
# leader's first `AppendEntries` tells it the commit index. In the picture its commit-index line
# breaks while it is down, starts again from zero and jumps back up to the others.

# %% tags=["picture-crash"]
TraceWidget(picture_of(crash, "the leader crashes at 1.5 s and restarts at 3 s, seed 1"))

# %% [markdown]
# **Try this:** crash a follower instead: `rd.builder` is the runtime's schedule builder, so
# `rd.run(rd.builder("f").at(1.5).crash("n1").at(3.0).restart("all").duration(4.0).build())`
# crashes n1 (pick another server if n1 led in this run). Is there an election? Does the
# follower's commit-index line look like the leader's above?

# %% [markdown]
# ## 10. Snapshots and log compaction
#
# The log grows with every command, forever, and the recovery above replayed all of it. A long
# running service cannot afford either. The fix is a **snapshot**: a server writes down its state
# machine's whole state as of some applied index, with the index and term of the last entry it
# covers, and then deletes the log up to that entry. Points worth knowing:
#
# - Each server takes its own snapshots, whenever it likes, with no agreement needed: it only
#   compacts entries that are committed, which never change.
# - The snapshot must be on disk *before* the entries it replaces are deleted. On a restart the
#   server loads the snapshot into its state machine and applies only the entries after it.
# - The entry before the first remaining one is gone, yet the consistency check of section 5 still
#   needs its term: that is why a snapshot keeps the index and term of its last entry.
# - A follower so far behind that the leader has already deleted the entries it needs cannot be
#   repaired entry by entry. The leader sends its snapshot instead (`InstallSnapshot`); the
#   follower replaces its state machine's state with it, and keeps the part of its log after the
#   snapshot only if it matches.
# - Snapshots cost time and memory: a big state is written in the background (copy-on-write,
#   as Redis does with `fork`), taken when the log passes a size, and sent in chunks.
#
# In the lab's part D, the harness hands your server a snapshot every 20 applied entries; your
# server keeps it, trims its log, sends it to a follower that needs it, and hands it back to the
# state machine on a restart. The tests check that the log stays bounded. (The time line reads a
# snapshot handed to the state machine as the commit index jumping to the snapshot's index.)

# %% [markdown]
# ## 11. Clients: finding the leader, duplicates and linearizable reads
#
# **Finding the leader.** A client sends its command to any server. A follower that knows the
# leader (it has heard its `AppendEntries`) redirects the client there; one that does not says
# so, and the client tries another, backing off while nobody leads. The lab's clerk tries the
# servers in turn; you can watch it in the pictures above, hopping from server to server after a
# leader change.
#
# **Duplicates.** A client that hears nothing back cannot tell a lost request from a lost answer
# (chapter 2), so it submits again, perhaps to a new leader, and Raft faithfully commits both
# copies. On an unreliable network, with one leader crash:

# %% tags=["demo-duplicates"]
rough = rd.run(rd.unreliable(), seed=1)
twice = rd.committed_twice(rough)
print(f"{len(twice)} commands committed more than once; checks: {set(rd.verdicts(rough).values())}")
table_of([{"command": c, "committed at indexes": ", ".join(map(str, ix))} for c, ix in twice.items()],
         title="Commands in the log more than once, seed 1")

# %% [markdown]
# **Look at** the checks: Raft did nothing wrong, every server holds the same log. But a key-value
# store that applies `append x "a"` twice is wrong. The remedy is chapter 2's: every client
# command carries a client id and a sequence number, and the *state machine* (not the leader)
# skips a command whose number it has already executed for that client. It must be the state
# machine, when it applies, because the two copies may be accepted by two different leaders; and
# the table of last numbers is part of the replicated state, so every replica makes the same
# decision, and it goes into snapshots with the rest. That is part E of the lab.
#
# **Linearizable reads.** Sending every read through the log makes it linearizable, but costs a
# log write and a round of replication per read. Answering from the leader's state machine
# directly is fast and wrong: section 6 showed a leader that did not know it had been replaced,
# and its answers would be stale. Raft's thesis describes a safe shortcut, *read index*:
#
# 1. the leader must have committed an entry of its current term (the no-op of section 7), so that
#    its commit index is up to date;
# 2. it notes its commit index as the read's index;
# 3. it confirms it is still the leader: a majority answers a round of heartbeats **sent after the
#    read arrived** (exercise 5);
# 4. it waits until its state machine has applied the read's index, then answers.
#
# *Leases* skip step 3: after a round of heartbeats, followers promise not to elect anyone else
# for a while, and the leader answers reads alone until that time. That is faster, and safe only
# if clocks run at the rates the lease assumes: chapter 0 counted clocks that disagree among the
# things that go wrong, and the Spanner chapter is about what it costs to bound them.

# %% [markdown]
# ## Summary
#
# | rule | what it guarantees | what breaks without it (the demo) |
# |---|---|---|
# | majorities for votes and commits | two majorities share a server | split brain (section 2) |
# | one vote per term, on disk before replying | at most one leader per term | two leaders of term 1 (section 8) |
# | randomized election timeouts | elections end | split votes forever (section 4) |
# | the consistency check on `prev_log_index` / `prev_log_term` | log matching | followers with holes and forks |
# | vote only for logs at least as up to date | every leader holds every committed entry | lost committed entries |
# | count replicas only of entries of the current term | committed means committed | Figure 8 (section 7) |
# | term, vote and log on disk | promises survive crashes | double votes, lost entries |
# | client ids and sequence numbers, in the state machine | exactly-once commands | commands applied twice (section 11) |
# | read index or leases | linearizable reads | stale reads from a deposed leader |
#
# In **Lab 4** you build parts A to C (elections, replication, persistence), then snapshots and a
# linearizable key-value service: see the lab's handout (`site/labs/raft.md`), and run its tests
# with `python -m autograder test raft --part A`. Every failure comes with a seed that replays it
# and a picture with the time lines of this chapter.

# %% [markdown]
# ## Exercises
#
# Five small functions, each a rule of this chapter. Write each in the cell marked
# `YOUR CODE HERE` (in the instructor's copy, the solution), then run the test cell below it.

# %% [markdown]
# ### Exercise 1: is the candidate's log up to date? (2 points)
#
# A log's last entry is given as a pair `(term, index)`, `(0, 0)` for an empty log. Write
# `up_to_date(candidate, voter)`: `True` when the candidate's log is at least as up to date as
# the voter's (section 7), so that the voter may vote for it.

# %% nbgrader={"grade": false, "grade_id": "up_to_date", "locked": false, "schema_version": 3, "solution": true, "task": false}
def up_to_date(candidate, voter):
    ### BEGIN SOLUTION
    (c_term, c_index), (v_term, v_index) = candidate, voter
    return c_term > v_term or (c_term == v_term and c_index >= v_index)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_up_to_date", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert up_to_date((0, 0), (0, 0)) is True, "two empty logs: as up to date as each other"
assert up_to_date((2, 5), (2, 5)) is True
assert up_to_date((2, 6), (2, 5)) is True
assert up_to_date((2, 4), (2, 5)) is False, "same last term, shorter log"
assert up_to_date((3, 2), (2, 9)) is True, "a later last term wins, even with a shorter log"
assert up_to_date((2, 9), (3, 2)) is False, "a longer log of an older term loses"
assert up_to_date((1, 1), (0, 0)) is True and up_to_date((0, 0), (1, 1)) is False
# Figure 8, step (e): n1's log ends with an entry of term 2, the others' with one of term 1 at a
# later index; step (d): n2's log ends later than n4's in the same term
assert up_to_date((2, 3), (1, 3)) is True and up_to_date((1, 3), (2, 3)) is False
assert up_to_date((1, 3), (1, 2)) is True

# %% [markdown]
# ### Exercise 2: grant a vote (3 points)
#
# A voter's state is a dictionary `{"term": ..., "voted_for": ..., "last": (term, index)}`
# (`voted_for` is `None` when it has not voted in its term). A vote request is
# `{"term": ..., "candidate": ..., "last": (term, index)}`. Write `grant_vote(voter, request)`:
# the voter's new `(term, voted_for)` and whether it grants its vote, `(term, voted_for, granted)`.
# Follow section 3 (a higher term is adopted first, with no vote yet in it; a request of an older
# term is refused) and section 7 (the candidate's log must be up to date). A voter asked again by
# the candidate it already voted for grants again: the candidate may not have received the first
# reply. Do not change `voter`.

# %% nbgrader={"grade": false, "grade_id": "grant_vote", "locked": false, "schema_version": 3, "solution": true, "task": false}
def grant_vote(voter, request):
    ### BEGIN SOLUTION
    term, voted_for = voter["term"], voter["voted_for"]
    if request["term"] > term:
        term, voted_for = request["term"], None
    granted = (request["term"] == term and voted_for in (None, request["candidate"])
               and up_to_date(request["last"], voter["last"]))
    if granted:
        voted_for = request["candidate"]
    return term, voted_for, granted
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_grant_vote", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
fresh = {"term": 4, "voted_for": None, "last": (3, 7)}
frozen = dict(fresh)
assert grant_vote(fresh, {"term": 4, "candidate": "n2", "last": (3, 7)}) == (4, "n2", True)
assert fresh == frozen, "grant_vote must not change the voter"
assert grant_vote(fresh, {"term": 3, "candidate": "n2", "last": (3, 9)}) == (4, None, False), "a request of an older term"
assert grant_vote(fresh, {"term": 5, "candidate": "n3", "last": (3, 7)}) == (5, "n3", True), "a newer term: adopt it, then vote"
assert grant_vote(fresh, {"term": 6, "candidate": "n3", "last": (2, 9)}) == (6, None, False), \
    "adopt the newer term even when refusing the vote"
voted = {"term": 4, "voted_for": "n2", "last": (3, 7)}
assert grant_vote(voted, {"term": 4, "candidate": "n5", "last": (4, 9)}) == (4, "n2", False), "one vote per term"
assert grant_vote(voted, {"term": 4, "candidate": "n2", "last": (3, 7)}) == (4, "n2", True), "asked again by the same candidate"
assert grant_vote(voted, {"term": 5, "candidate": "n5", "last": (3, 7)}) == (5, "n5", True)
# section 8: n2 voted for n1 in term 1; n3 asks for term 1. With its disk n2 refuses; having lost it
# (back to term 0, no vote, an empty log) it grants, and term 1 gets a second leader.
n2 = {"term": 1, "voted_for": "n1", "last": (0, 0)}
ask = {"term": 1, "candidate": "n3", "last": (0, 0)}
assert grant_vote(n2, ask)[2] is False
assert grant_vote({"term": 0, "voted_for": None, "last": (0, 0)}, ask)[2] is True

# %% [markdown]
# ### Exercise 3: accept entries (3 points)
#
# A follower's log is a list of entries `(term, command)`; the entry at index `i` is `log[i - 1]`.
# Write `accept_entries(log, prev_index, prev_term, entries)` for an `AppendEntries` (section 5):
# `None` when the consistency check fails; otherwise the follower's new log, as a new list. Cut the
# log only at a real conflict (an entry at the same index with another term), never just because
# the message carries fewer entries than the log has after `prev_index`. Do not change `log`.

# %% nbgrader={"grade": false, "grade_id": "accept_entries", "locked": false, "schema_version": 3, "solution": true, "task": false}
def accept_entries(log, prev_index, prev_term, entries):
    ### BEGIN SOLUTION
    if prev_index > len(log) or (prev_index > 0 and log[prev_index - 1][0] != prev_term):
        return None
    new = list(log)
    for offset, entry in enumerate(entries):
        index = prev_index + 1 + offset
        if index <= len(new) and new[index - 1][0] == entry[0]:
            continue
        del new[index - 1:]
        new.extend(entries[offset:])
        break
    return new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_accept_entries", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
log = [(1, "a"), (1, "b"), (2, "c")]
kept = list(log)
assert accept_entries([], 0, 0, [(1, "a")]) == [(1, "a")]
assert accept_entries(log, 3, 2, [(2, "d")]) == [(1, "a"), (1, "b"), (2, "c"), (2, "d")]
assert accept_entries(log, 3, 2, []) == log, "a heartbeat changes nothing"
assert accept_entries(log, 4, 2, [(2, "e")]) is None, "the follower has no entry at prev_index"
assert accept_entries(log, 3, 3, [(3, "e")]) is None, "its entry at prev_index has another term"
assert accept_entries(log, 1, 1, [(3, "x"), (3, "y")]) == [(1, "a"), (3, "x"), (3, "y")], \
    "a conflict at index 2: cut there, then append"
assert accept_entries(log, 1, 1, [(1, "b")]) == log, \
    "a late, shorter message whose entries match: keep the rest of the log"
assert accept_entries(log, 0, 0, [(1, "a"), (1, "b"), (2, "c"), (2, "d")]) == [*log, (2, "d")]
assert log == kept, "accept_entries must not change the log it is given"

# %% [markdown]
# ### Exercise 4: the commit rule (3 points)
#
# Write `commit_index(match, term_at, current_term, commit)`, the leader's commit rule (section 7).
# `match` lists, for every server, the leader included, the highest index known to be in its log
# as in the leader's; `term_at(i)` is the term of the leader's entry `i`; `commit` is the commit
# index so far. Return the new commit index: the highest index held by a majority whose entry is of
# the current term, or `commit` if there is none higher.

# %% nbgrader={"grade": false, "grade_id": "commit_index", "locked": false, "schema_version": 3, "solution": true, "task": false}
def commit_index(match, term_at, current_term, commit):
    ### BEGIN SOLUTION
    majority = len(match) // 2 + 1
    for n in sorted(set(match), reverse=True):
        if n <= commit:
            break
        if sum(1 for m in match if m >= n) >= majority and term_at(n) == current_term:
            return n
    return commit
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_commit_index", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
terms_of = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4}.__getitem__  # the leader's log: terms of indexes 1..5
assert commit_index([5, 5, 4, 1, 0], terms_of, 4, 2) == 4, "index 4 is on three of five servers"
assert commit_index([5, 5, 5, 4, 0], terms_of, 4, 2) == 5
assert commit_index([5, 1, 1, 0, 0], terms_of, 4, 1) == 1, "no majority holds anything new"
assert commit_index([5, 3, 3, 2, 0], terms_of, 4, 1) == 1, \
    "Figure 8: index 3 (term 2) is on a majority, but the leader's term is 4"
assert rd.counts_replicas([5, 3, 3, 2, 0], terms_of, 4, 1) == 3, "(the buggy rule would commit it)"
assert commit_index([5, 5, 4, 3, 3], terms_of, 4, 1) == 4, "committing index 4 commits 2 and 3 with it"
assert commit_index([5, 5, 4, 1, 0], terms_of, 4, 5) == 5, "the commit index never goes back"
assert commit_index([3, 3, 0], {1: 1, 2: 1, 3: 2}.__getitem__, 2, 0) == 3, "three servers: two are a majority"

# %% [markdown]
# ### Exercise 5: may the leader answer this read? (2 points)
#
# A leader of term `term` received a read at time `read_at`. Since then it has collected
# acknowledgements of its heartbeats: `acks` is a list of `(server, term, sent_at)`, one per reply,
# saying which server answered a heartbeat of which term, sent by the leader at `sent_at`. Write
# `may_answer_read(read_at, term, acks, servers)`: `True` when the leader and the servers that
# acknowledged a heartbeat of its term sent **at or after** `read_at` make a majority of `servers`
# (the cluster's size), step 3 of the read index (section 11).

# %% nbgrader={"grade": false, "grade_id": "may_answer_read", "locked": false, "schema_version": 3, "solution": true, "task": false}
def may_answer_read(read_at, term, acks, servers):
    ### BEGIN SOLUTION
    confirmed = {server for server, t, sent_at in acks if t == term and sent_at >= read_at}
    return 1 + len(confirmed) > servers // 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_may_answer_read", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert may_answer_read(1.0, 3, [("n2", 3, 1.0), ("n3", 3, 1.05)], 5) is True, "itself, n2 and n3: three of five"
assert may_answer_read(1.0, 3, [("n2", 3, 1.0)], 5) is False, "two of five"
assert may_answer_read(1.0, 3, [("n2", 3, 1.0)], 3) is True, "two of three"
assert may_answer_read(1.0, 3, [("n2", 3, 0.9), ("n3", 3, 0.95)], 5) is False, \
    "heartbeats sent before the read prove nothing about the moment of the read"
assert may_answer_read(1.0, 3, [("n2", 3, 1.1), ("n2", 3, 1.2)], 5) is False, "n2 twice is still one server"
assert may_answer_read(1.0, 3, [("n2", 2, 1.1), ("n3", 2, 1.1)], 5) is False, "acknowledgements of another term"
assert may_answer_read(1.0, 3, [], 1) is True, "a cluster of one"

# %% [markdown]
# ## Further reading
#
# - Diego Ongaro and John Ousterhout, *In Search of an Understandable Consensus Algorithm*
#   (USENIX ATC 2014, and its extended version): Raft, with Figure 2 (the whole protocol on one
#   page, the lab's map) and Figure 8.
# - Diego Ongaro, *Consensus: Bridging Theory and Practice* (PhD thesis, Stanford, 2014): chapter 5
#   on log compaction, chapter 6 on clients (sessions, read index, leases), chapter 4 on changing
#   the set of servers, which this chapter left out.
# - Leslie Lamport, *Paxos Made Simple* (2001), and Heidi Howard and Richard Mortier, *Paxos vs
#   Raft: Have we reached consensus on distributed consensus?* (PaPoC 2020): the classic, and how
#   close the two really are.
# - Martin Kleppmann, *Designing Data-Intensive Applications* (2017), chapter 9: linearizability,
#   consensus and what it costs; the course's notes summarise its safety-versus-liveness view.
# - Jeff Hodges, *Notes on Distributed Systems for Young Bloods* (2013): why coordination is to be
#   avoided where possible, and why leaders "disappear" in garbage-collection pauses.
# - MIT 6.824 (now 6.5840), the Raft labs, which this course's Lab 4 follows; Martin Cartledge's
#   *Intro to Distributed Systems* (2023) roadmap through the course reaches Raft in week 6.
