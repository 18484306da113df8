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
# # Chapter 3: Primary-backup replication, or two copies and one boss
#
# The server of chapter 2 executed every request once, as long as it lived. When its machine
# dies the service stops, and if the disk goes with it, the data is gone. The obvious remedy is a
# second machine holding a copy, ready to take over. This chapter is about why that remedy is
# harder than it looks. Copying is easy. The hard part is agreeing, at every moment, on **which**
# copy is in charge, when "the primary is dead" and "the primary is cut off from me" look exactly
# the same from the outside.
#
# The design here is the classic one: a **primary** that clients talk to, a **backup** that sees
# every operation too, and a third party, the **view service**, that decides who is which and
# announces each change as a numbered **view**. It is the design of Lab 3, and its weak point,
# the view service itself, is the reason for chapter 4.
#
# The demos run the lab's servers (`labs/primary_backup/node.py`) in the simulator: `n1` is the
# view service, `n2`, `n3` and `n4` are key-value servers (one of them idle, a spare), and three
# clients use them. In the course's copy those servers are the reference solution; in your copy
# they are your own code, so once your lab works, these demos run *yours*. In every picture, the
# **Views** time line under the messages shows the views as the view service announced them
# (first track), and, for each server, what it believed: primary, backup or idle, in which view.
#
# As in the other chapters, **Look at** says what to notice and **Try this** what to change. The
# chapter ends with five exercises checked by code.
#
# *Contents:* 1. two ways to copy · 2. views, and who decides · 3. a view change, message by
# message · 4. split brain · 5. why wait for the acknowledgement · 6. one copy is no copy ·
# 7. when the view service fails · summary · exercises · further reading

# %%
import sys
from pathlib import Path

try:
    import course.demos  # noqa: F401  (installed with the project: pip install -e .)
except ImportError:  # a checkout that was not installed: use the repository's own copy
    sys.path.insert(0, str(Path.cwd().resolve().parent))

from course.demos import pb_demos as pb
from course.demos.charts import table_of
from labs.pictures import TraceWidget, picture_of

# %% [markdown]
# ## 1. Two ways to copy
#
# A backup must end up in the same state as the primary. There are two ways to get it there.
#
# - **State transfer**: the primary sends its state, or the part that changed, to the backup.
#   Simple, and it works whatever the operations are, but the state can be large: a key-value
#   store of many gigabytes cannot be shipped after every write.
# - **Replicated state machine**: the primary sends the backup the *operations*, in the order it
#   executes them, and the backup executes them too. If both start from the same state and the
#   operations are deterministic, they end in the same state. Operations are small, so this is
#   what real systems do for the steady flow of requests. Anything not deterministic (a clock
#   read, a random number) must be decided by the primary and sent along as data.
#
# The lab uses both, each where it fits: operations are forwarded one by one while the pair
# works, and the whole state is transferred once, when a fresh server becomes the backup.
#
# One more decision matters for everything below: the primary answers a client only after the
# backup has executed the operation too. Then whatever the client was told is on both copies,
# and losing either one loses nothing the client saw.

# %% [markdown]
# ## 2. Views, and who decides
#
# Who is primary cannot be decided by the two servers between themselves: when each hears
# nothing from the other, each would conclude the other is dead and take charge. So one more
# server decides: the **view service**. Every key-value server pings it every 0.1 s; it answers
# each ping with its current view, `(number, primary, backup)`. A server it has not heard from
# for five pings is dead. When the primary dies, the view service makes the backup primary and
# a spare the new backup, in a new view with the next number.
#
# The demo: the primary crashes for good at 1 s.

# %% tags=["demo-failover"]
failover = pb.run(pb.failover(), seed=1)
pb.announced(failover)

# %% [markdown]
# **Look at** the time between the crash (1 s) and the next view: about half a second, the five
# pings the view service waits for before it gives up on a server. During that half second
# nobody serves: the old primary is dead and the new one does not know yet. A shorter wait would
# shorten the gap, and mistake more slow servers for dead ones.

# %% tags=["picture-failover"]
TraceWidget(picture_of(failover, "The primary crashes at 1 s"))

# %% [markdown]
# ## 3. A view change, message by message
#
# Here are the protocol's messages around that view change (a ping that says nothing new is
# left out):

# %% tags=["demo-view-change"]
pb.messages(failover, 0.95, 1.8)

# %% [markdown]
# **Look at** the order. The view service announces the new view to whoever pings; the new
# primary learns that it is primary, and that its backup is a server that holds nothing. It
# sends the backup its **whole state** (`Transfer`), and only when the backup answers does it
# ping with the new view's number: that ping is its **acknowledgement** of the view. Until then
# it answers no client: a primary whose backup lacks the data is a primary with one copy.

# %% [markdown]
# ## 4. Split brain
#
# Now the hard case. The primary is not dead: it is cut off from the view service, together
# with one client, `c1`, while both can still reach the other servers. The view service stops
# hearing from the primary and promotes the backup. The old primary has not heard of the new
# view, and nobody can tell it. For a while **two servers believe they are primary**: that is
# the situation called split brain. `c1` keeps sending its reads to the old primary, while the
# other clients append through the new one.
#
# Two designs meet this schedule: the lab's, and one whose primary answers reads alone (a read
# changes nothing, so why bother the backup?).

# %% tags=["demo-split-brain"]
story = pb.split_brain()
designs = {"the lab's": pb.run(story, seed=1), "reads alone": pb.run(story, seed=1, server=pb.reads_locally())}
table_of([{"design": name, "believe they are primary at 2 s": ", ".join(pb.believed_primary(r, 2.0)),
           **pb.verdicts(r, ("linearizable",))} for name, r in designs.items()],
         title="Split brain: the old primary and c1 cannot reach the view service from 1 s to 3 s")

# %% [markdown]
# **Look at** the middle column: in both runs two servers believe they are primary at 2 s.
# Split brain itself cannot be prevented: the old primary cannot learn what nobody can tell it.
# What can be prevented is its *harm*. In the lab's design the old primary forwards every
# request, reads included, to the server it believes is its backup; that server is now in a
# newer view, refuses, and the old primary answers nothing. Its client waits, then asks the view
# service, and is sent to the new primary once the network heals.
#
# The second design answers `c1`'s reads from a store that no longer gets the other clients'
# appends: stale reads, which the linearizability checker rejects from the clients' history
# alone. A backup that took forwards from any primary would do harm of another kind: the old
# primary's writes would reach the new primary but not its backup, and be lost at the next
# failover (the lab's `B-split-brain` test crashes the new primary at 3.5 s to show it).

# %% tags=["picture-split-brain"]
TraceWidget(picture_of(designs["the lab's"], "Split brain, the lab's design"))

# %% [markdown]
# **Look at** the Views time line: two server tracks show *primary* at once, from the new view
# until the heal. Find `c1`'s reads in that window: they are sent, forwarded, refused, and never
# answered.
#
# **Try this:** `pb.verdicts(pb.run(story, seed=1, server=pb.reads_locally()))` on other seeds:
# does every seed catch it? What must happen for a stale read to show?

# %% [markdown]
# ## 5. Why wait for the acknowledgement
#
# The view service announces a new view only once the primary of the current one has
# acknowledged it. Why should the view service care whether the primary *knows*? Because a
# primary that has not heard of view N is still acting in view N-1, with the backup of N-1. If
# the view service moved on to N+1 regardless, it could promote, in N+1, a server that was
# made backup in N but never received the state: the primary of N never got to transfer it.
# Waiting is what makes each new primary one that held every acknowledged write.
#
# An impatient view service, which takes every view as acknowledged at once, meets the failover
# again:

# %% tags=["demo-impatient"]
impatient = pb.run(pb.failover(), seed=1, view_server=pb.impatient())
display_checks = ("views-step-by-one", "views-wait-for-the-ack", "only-the-backup-is-promoted", "linearizable")
table_of([{"view service": name, **pb.verdicts(r, display_checks)}
          for name, r in [("the lab's", failover), ("impatient", impatient)]],
         title="The failover again, with a view service that waits for the acknowledgement, and one that does not")

# %% [markdown]
# **Look at** the impatient row: it announces view 2 before the primary of view 1 could know view
# 1 existed. Here nothing was lost yet (the clients' history is still fine), but the rule that
# protects the data is already broken: one crash at the wrong moment and a server that never got
# the state is promoted. The lab's tests give it that moment.
#
# The price of waiting: if the primary dies before acknowledging the current view, the view
# service can never move on. The service stops, correctly, rather than risk the data.

# %% [markdown]
# ## 6. One copy is no copy
#
# Two smaller rules come from the same question: *who holds the data?*
#
# - **A primary with no backup answers nothing.** An answer given on one copy is lost with that
#   copy. In the lab, the first view has a primary and no backup; the primary waits until a
#   backup holds the state. The same goes after the backup dies, until a new one is filled.
# - **A server that restarted holds nothing**, even if the view still names it. Its pings say
#   when it started; a later start means a new life, and the view service treats it as dead to
#   the view it was in, right away. It comes back as a spare, and may be made backup again after
#   a state transfer. A ping with an *earlier* start is a late copy from a life that has ended.
#
# And the view service promotes only the backup: a spare holds none of the data. When the primary
# and the backup are both gone, nobody is promoted and the service waits.

# %% [markdown]
# ## 7. When the view service fails
#
# Everything above relies on one server, the view service, being up. If it crashes, nobody can
# change views any more; if it were replicated naively, its copies would need to agree on the
# current view, which is the same problem again, one level up. Agreeing on a sequence of
# decisions among several machines, any of which may fail, is **consensus**. Raft (chapter 4)
# solves it without a separate boss: the servers elect their leader among themselves, by
# majority, and a majority of copies, not two, holds every committed operation.

# %% [markdown]
# ## Summary
#
# - Replicate by sending operations in order (a replicated state machine), and transfer the whole
#   state to a fresh backup.
# - The primary answers a client only after the backup executed the operation.
# - One server, the view service, decides who is primary, in numbered views, one change at a
#   time, and only after the primary acknowledged the current view.
# - Split brain cannot be prevented, only made harmless: the primary forwards everything, reads
#   included, and a backup refuses forwards from any primary but its own view's.
# - A primary with no backup serves nothing; a restarted server holds nothing; only the backup is
#   ever promoted.
# - The view service is a single point of failure: replacing it needs consensus (chapter 4).

# %% [markdown]
# ## Exercises
#
# Five small functions, each a rule of this chapter. Write each in the cell marked
# `YOUR CODE HERE` (in the instructor's copy, the solution), then run the test cell below it.
# A view is a tuple `(number, primary, backup)`, with `""` for nobody.

# %% [markdown]
# ### Exercise 1: the next view (3 points)
#
# Write `next_view(view, acknowledged, alive, spares)`: the view the view service announces next,
# or `None` when it must not change anything now. `acknowledged` says whether the primary of
# `view` acknowledged it; `alive` is the set of servers the view service takes for alive;
# `spares` is a list of live servers in neither role, best first. Follow sections 2, 5 and 6:
# one change at a time; only the backup is ever promoted (taking the first spare as its backup,
# or nobody); a dead backup is replaced by the first spare; a view with no backup gets the first
# spare as backup.

# %% nbgrader={"grade": false, "grade_id": "next_view", "locked": false, "schema_version": 3, "solution": true, "task": false}
def next_view(view, acknowledged, alive, spares):
    ### BEGIN SOLUTION
    number, primary, backup = view
    spare = spares[0] if spares else ""
    if not acknowledged:
        return None
    if primary not in alive:
        return (number + 1, backup, spare) if backup and backup in alive else None
    if backup and backup not in alive:
        return (number + 1, primary, spare)
    if not backup and spare:
        return (number + 1, primary, spare)
    return None
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_next_view", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
assert next_view((2, "n2", "n3"), True, {"n2", "n3", "n4"}, ["n4"]) is None, "nothing to change"
assert next_view((2, "n2", "n3"), True, {"n3", "n4"}, ["n4"]) == (3, "n3", "n4"), "the backup takes over"
assert next_view((2, "n2", "n3"), False, {"n3", "n4"}, ["n4"]) is None, "not acknowledged: wait"
assert next_view((2, "n2", "n3"), True, {"n3"}, []) == (3, "n3", ""), "a new primary with no spare for backup"
assert next_view((2, "n2", "n3"), True, {"n4"}, ["n4"]) is None, "both gone: a spare holds nothing"
assert next_view((2, "n2", "n3"), True, {"n2", "n4"}, ["n4"]) == (3, "n2", "n4"), "a dead backup is replaced"
assert next_view((1, "n2", ""), True, {"n2", "n3"}, ["n3", "n4"]) == (2, "n2", "n3"), "a first backup"
assert next_view((1, "n2", ""), True, {"n2"}, []) is None

# %% [markdown]
# ### Exercise 2: a ping from which life? (2 points)
#
# Each ping says when its sender started. Write `life_of(recorded, started)`, where `recorded` is
# the start the view service noted for that server (`None` if it never heard from it): `"first"`,
# `"same"`, `"restarted"` (a later start: a new life, which holds nothing) or `"late"` (an earlier
# start: a copy from a life that has ended, to be ignored).

# %% nbgrader={"grade": false, "grade_id": "life_of", "locked": false, "schema_version": 3, "solution": true, "task": false}
def life_of(recorded, started):
    ### BEGIN SOLUTION
    if recorded is None:
        return "first"
    return "same" if started == recorded else "restarted" if started > recorded else "late"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_life_of", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert life_of(None, 0.0) == "first"
assert life_of(0.0, 0.0) == "same"
assert life_of(0.0, 1.05) == "restarted", "it started again: what it held is gone"
assert life_of(1.05, 0.0) == "late", "a ping from before the restart, delivered late"
assert [life_of(r, s) for r, s in [(2.5, 2.5), (2.5, 2.6), (2.6, 2.5)]] == ["same", "restarted", "late"]

# %% [markdown]
# ### Exercise 3: take a forward? (2 points)
#
# Write `take_forward(me, my_view, sender, forward_view, holds_state)`: whether server `me`,
# which holds `my_view`, executes a forward that `sender` sent in `forward_view` (section 4).
# `holds_state` says whether `me` has received the state of `my_view`.

# %% nbgrader={"grade": false, "grade_id": "take_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def take_forward(me, my_view, sender, forward_view, holds_state):
    ### BEGIN SOLUTION
    _, primary, backup = my_view
    return holds_state and forward_view == my_view and backup == me and sender == primary
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_take_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
v2, v3 = (2, "n2", "n3"), (3, "n3", "n4")
assert take_forward("n3", v2, "n2", v2, True) is True
assert take_forward("n3", v3, "n2", v2, True) is False, "the old primary of view 2, to the primary of view 3"
assert take_forward("n4", v3, "n3", v3, False) is False, "a backup that has not got the state yet"
assert take_forward("n4", v3, "n2", v3, True) is False, "only the primary of the view may forward"
assert take_forward("n4", v3, "n3", v3, True) is True

# %% [markdown]
# ### Exercise 4: may the primary answer? (2 points)
#
# Write `may_answer(me, view, synced)`: whether server `me` may answer a client now, holding
# `view`, where `synced` is the server it finished transferring its state to in this view (`""`
# if none). Sections 3 and 6.

# %% nbgrader={"grade": false, "grade_id": "may_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def may_answer(me, view, synced):
    ### BEGIN SOLUTION
    _, primary, backup = view
    return primary == me and backup != "" and synced == backup
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_may_answer", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert may_answer("n2", (2, "n2", "n3"), "n3") is True
assert may_answer("n2", (1, "n2", ""), "") is False, "one copy is no copy"
assert may_answer("n2", (3, "n2", "n4"), "n3") is False, "the new backup has not got the state"
assert may_answer("n3", (2, "n2", "n3"), "") is False, "the backup answers no client"

# %% [markdown]
# ### Exercise 5: how long did two servers believe they led? (3 points)
#
# `announced` is the view service's list of `(time, view)` announcements, in order. `learned` maps
# each server to its list of `(time, view number)`: when it learned each view it came to hold.
# Write `split_brain(announced, learned, end)`: the total time, up to `end`, during which two or
# more servers at once believed they were primary (a server believes it is primary from when it
# learned a view naming it primary until it learned a later view).

# %% nbgrader={"grade": false, "grade_id": "split_brain", "locked": false, "schema_version": 3, "solution": true, "task": false}
def split_brain(announced, learned, end):
    ### BEGIN SOLUTION
    primary_of = {view[0]: view[1] for _, view in announced}
    spans = []
    for server, seen in learned.items():
        for (t, number), after in zip(seen, [*seen[1:], (end, None)], strict=True):
            if primary_of.get(number) == server:
                spans.append((t, min(after[0], end)))
    moments = sorted({t for span in spans for t in span})
    total = 0.0
    for i in range(len(moments) - 1):
        a, b = moments[i], moments[i + 1]
        if sum(1 for s, e in spans if s <= a and b <= e) >= 2:
            total += b - a
    return total
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_split_brain", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
announced = [(0.0, (1, "n2", "")), (0.1, (2, "n2", "n3")), (1.5, (3, "n3", "n4"))]
calm = {"n2": [(0.0, 1), (0.1, 2), (1.6, 3)], "n3": [(0.1, 2), (1.55, 3)], "n4": [(1.6, 3)]}
assert abs(split_brain(announced, calm, 4.0) - 0.05) < 1e-9, "n2 learns view 3 50 ms after n3"
cut_off = {"n2": [(0.0, 1), (0.1, 2), (3.05, 3)], "n3": [(0.1, 2), (1.5, 3)], "n4": [(1.5, 3)]}
assert abs(split_brain(announced, cut_off, 4.0) - 1.55) < 1e-9, "n2 cut off until the heal at 3 s"
assert split_brain(announced[:2], {"n2": [(0.0, 1), (0.1, 2)], "n3": [(0.1, 2)]}, 4.0) == 0.0
assert abs(split_brain(announced, cut_off, 2.0) - 0.5) < 1e-9, "counted only up to end"

# %% [markdown]
# **Try this:** feed exercise 5 the lab's split-brain run. The Views time line of its picture holds
# the same information: `pb.believed_primary(designs["the lab's"], t)` for a few `t`.

# %% [markdown]
# ## Further reading
#
# - The view service and primary-backup key-value lab of MIT's 6.824 (2015), on which Lab 3 is
#   modelled.
# - Budhiraja, Marzullo, Schneider and Toueg, *The Primary-Backup Approach* (1993): what
#   primary-backup can and cannot guarantee.
# - Scales, Nelson and Venkitachari, *The Design of a Practical System for Fault-Tolerant Virtual
#   Machines* (VMware FT, 2010): a replicated state machine at the level of a whole machine, with
#   a shared disk as its tie-breaker against split brain.
