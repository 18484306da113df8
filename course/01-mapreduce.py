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
# # Chapter 1: MapReduce, or how to keep a thousand machines busy and forgive them for failing
#
# Suppose you must count the words in every web page you have crawled. On one machine the program
# is ten lines long and runs for a month. On a thousand machines it could run for an hour, if
# someone wrote the code that splits the work, moves the data, notices the machines that died
# and redoes their part. MapReduce is that code, written once: you supply two small functions,
# and the framework does the distributed part. It is also the first place where this course's
# themes show up in a real system: machines fail halfway through, some crawl, and the answer must
# still come out exactly right.
#
# Every demo below runs a real MapReduce (the chapter's own, in `course/demos/mapreduce_demos.py`)
# on the course's simulator: a coordinator and workers in one process with a virtual clock, over a
# library of made-up books generated from a seed. Reading and writing files takes simulated time
# (half a megabyte per second, a slow disk), so a crash lands at an exact moment in the middle of
# a task, and the same seed replays it. **Look at** says what to notice, **Try this** what to
# change. The lab (`labs/mapreduce`) is where you build the coordinator and workers yourself.
#
# *Contents:* 1. map and reduce · 2. partitions and the shuffle · 3. more workers ·
# 4. re-execution · 5. stragglers and backup tasks · 6. atomic commit · 7. the network is the
# bottleneck: combiners and locality · 8. what MapReduce is bad at · exercises · further reading

# %%
import sys
from pathlib import Path

try:
    import course.demos  # noqa: F401  (installed with the project: pip install -e .)
except ImportError:  # a checkout that was not installed: use the repository's own copy
    sys.path.insert(0, str(Path.cwd().resolve().parent))

import time
from collections import Counter

from IPython.display import display

import labs
from course.demos import mapreduce_demos as mr
from course.demos.charts import table_of
from labs.mapreduce.apps import wc
from labs.mapreduce.corpus import read_books
from labs.mapreduce.mr import ihash, sequential
from labs.pictures import TraceWidget, picture_of

# %% [markdown]
# ## 1. Two functions
#
# A MapReduce job is described by two functions of plain data:
#
# - **map** takes one piece of input (here: one book) and emits key-value pairs. For word count:
#   one pair `(word, "1")` per word it reads.
# - **reduce** takes one key and *all* the values emitted for it, anywhere, and returns the answer
#   for that key. For word count: how many values there are.
#
# Between the two sits the step that makes it work: every pair is routed to the place where its
# key is reduced, and the values of each key are gathered together. The functions never talk to
# each other and never touch shared state, and that is the point: any call of map can run on any
# machine, in any order, as many times as needed, and the result is the same. Here is the whole
# job on three lines of text, in one process:

# %% tags=["demo-by-hand"]
lines = {"a.txt": "the cat sat", "b.txt": "the cat ran", "c.txt": "a dog ran"}
pairs = [pair for name, text in lines.items() for pair in wc.map(None, name, text)]
print("map emitted:", pairs)
groups: dict[str, list[str]] = {}
for key, value in sorted(pairs):
    groups.setdefault(key, []).append(value)
print("grouped:    ", groups)
print("reduced:    ", {key: wc.reduce(None, key, values) for key, values in groups.items()})
print("sequential():", sequential("wc", lines))

# %% [markdown]
# **Look at** the grouped line: all that reduce needs is every value of one key in one place. The
# last line is the framework's sequential reference, the answer every distributed run of this job
# must reproduce exactly.

# %% [markdown]
# ## 2. Partitions and the shuffle
#
# With `R` reduce tasks, the pair `(k, v)` goes to reduce task `hash(k) mod R`. Each map task
# therefore writes `R` intermediate files, one per reduce task, and reduce task `r` reads file
# `r` of *every* map task. Moving those files from the machines that wrote them to the machines
# that read them is the **shuffle**, the only communication the job has. The hash must be the same
# on every machine (Python's own `hash()` of a string is not: it is salted per process, so the lab
# uses a CRC).
#
# Hashing spreads keys evenly, but not values: words follow Zipf's law, so one partition receives
# "the" and its hundreds of thousands of copies. Here is how the small corpus's pairs fall into
# four partitions:

# %% tags=["demo-partitions"]
small = {f"input/{name}": text for name, text in read_books("small").items()}
counts = Counter(w for text in small.values() for w in wc.WORD.findall(text))
rows = []
for r in range(4):
    keys = {w: n for w, n in counts.items() if ihash(w) % 4 == r}
    top = max(keys, key=keys.__getitem__)
    rows.append({"partition": r, "distinct keys": len(keys), "pairs": sum(keys.values()),
                 "its most common key": top, "that key's pairs": keys[top]})
table_of(rows, title="The small corpus's word-count pairs in 4 partitions")

# %% [markdown]
# **Look at** the pairs column against the distinct keys column: similar numbers of keys, very
# different amounts of work, decided by where the few very common words landed. A reduce task
# cannot be split below one key, so a hot key sets a floor on the job's time. Real jobs use many
# more partitions than machines, so that a big one is a small share of the total.

# %% [markdown]
# ## 3. More workers
#
# A **coordinator** hands out tasks to **workers**: first the map tasks (one per input file),
# then, only when *every* map task is done, the reduce tasks (a reduce task needs the output of
# all maps). In the chapter's MapReduce a worker announces itself when it starts, and the
# coordinator gives a task to every worker that has nothing to do; the worker runs it, reports,
# and gets the next one. (The lab's workers ask for work instead: two ways to arrive at the same
# schedule.) Here is the same word count with one worker and with three:

# %% tags=["demo-workers"]
runs = {w: labs.run(mr.lab(workers=w, length=20), "sim", mr.clean(20), seed=1) for w in (1, 3)}
table_of([{"workers": w, "job time (s)": mr.job_time(run), "speed-up": mr.job_time(runs[1]) / mr.job_time(run),
           "task attempts": len(mr.task_table(run)), "output right": mr.correct(run)}
          for w, run in runs.items()], title="Word count over the small corpus, simulated")

# %% [markdown]
# **Look at** the speed-up: below 3. Eight map tasks do not split evenly over three workers (the
# last round has two), no reduce can start before the last map ends, and the reduce tasks are
# uneven (section 2). The picture shows it: the **Tasks** track under the messages has one bar per
# task attempt on each worker. Hover a bar for its task.

# %% tags=["picture-workers"]
TraceWidget(picture_of(runs[3], "word count, three workers, seed 1"))

# %% [markdown]
# **Try this:** `mr.lab(workers=8, ...)`. With eight map tasks, eight workers finish the map phase
# in one round; do they help the reduce phase (`reduces=4`)?

# %% [markdown]
# ## 4. Re-execution is the fault tolerance
#
# A worker that crashes takes its task with it. The coordinator cannot tell a dead worker from a
# slow one (chapter 0), so it does the one thing that is right in both cases: after a **timeout**
# with no report, it gives the task to another worker. Because map and reduce are deterministic
# functions of their input, running a task twice gives the same files, and nothing needs undoing.
# Here a worker crashes every 0.15 s, in the middle of whatever it was doing, and is back 0.3 s
# later (a new process: what it was doing is gone):

# %% tags=["demo-crash"]
crashes = mr.crash_workers([(0.15, "n2"), (0.3, "n3"), (0.45, "n4"), (0.6, "n2"), (0.75, "n3"), (0.9, "n4")], length=20)
crashed = labs.run(mr.lab(length=20), "sim", crashes, seed=2)
attempts_table = mr.task_table(crashed)
print(f"job time {mr.job_time(crashed):.2f} s, output right: {mr.correct(crashed)}, "
      f"{sum(1 for a in attempts_table if a['ended'] == 'crashed')} attempts lost in crashes")
table_of([a for a in attempts_table if a["ended"] == "crashed" or a["attempt"] > 1],
         title="Attempts that crashed, and the attempts that redid them")

# %% [markdown]
# **Look at** the attempts column: each crashed task ran again, a little over two seconds later
# (the coordinator's timeout), and the output is still exactly right. The timeout is
# a guess: too short and slow tasks are run twice for nothing; too long and a crash costs that
# long. In the picture, crashed attempts are red bars that end at the crash.

# %% tags=["picture-crash"]
TraceWidget(picture_of(crashed, "word count, a worker crashes every 0.15 s, seed 2"))

# %% [markdown]
# ## 5. Stragglers and backup tasks
#
# A machine with a failing disk, a noisy neighbour or a bad configuration does not crash: it
# crawls. One such **straggler** holding the last task holds the whole job. The `slow` test
# application makes the first attempt at one map and at one reduce take 8 s more. Three
# coordinators:
#
# - **no timeout**: it waits for the straggler;
# - **timeout**: after 2 s without a report it gives the task to another worker (the lab's rule);
# - **backup tasks**: when nothing is left to hand out, an idle worker gets a *copy* of the
#   longest-running task; whichever copy finishes first counts. The MapReduce paper reports that
#   without them a large sort took 44% longer.

# %% tags=["demo-stragglers"]
policies = {"no timeout": {"timeout": None}, "timeout after 2 s": {}, "timeout and backup tasks": {"backups": True}}
stragglers = {name: labs.run(mr.lab(app="slow", length=25, **kw), "sim", mr.clean(25), seed=1)
              for name, kw in policies.items()}
baseline = mr.job_time(stragglers["no timeout"])
table_of([{"coordinator": name, "job time (s)": mr.job_time(run),
           "saved (s)": baseline - mr.job_time(run), "task attempts": len(mr.task_table(run)),
           "output right": mr.correct(run)} for name, run in stragglers.items()],
         title="Word count with two stragglers (8 s each), seed 1")

# %% [markdown]
# **Look at** the saved column: the timeout already saves most of the stragglers' 16 s, and backup
# tasks save more, because they do not wait for the timeout at all: an idle worker starts a copy at
# once. The price is the extra attempts column: work done twice. In the picture of the backup run,
# a long red bar (the straggler, overtaken) sits above a short bar for the same task on another
# worker.

# %% tags=["picture-backups"]
TraceWidget(picture_of(stragglers["timeout and backup tasks"], "two stragglers, backup tasks, seed 1"))

# %% [markdown]
# ## 6. Atomic commit: write, then rename
#
# Re-execution has a consequence: two attempts at one task may write the same file, and an attempt
# may die in the middle of writing one. Readers (the reduce tasks, the job's user) must never see
# half a file under a name they trust. The fix is the oldest trick of file systems: write the
# whole file under a private temporary name, then **rename** it to its real name. A rename replaces
# the target in one step: readers see the old file or the new one, never a mix, and a crash before
# the rename leaves only a temporary file that nobody reads. The chapter's MapReduce does it the
# paper's way: each attempt writes under names of its own and reports them, and the coordinator,
# which alone decides which attempt counts (the first to report), keeps a map's files under those
# names for the reduces and renames a reduce's file to its real name. Here the same crashing
# workers write in place and under their own names, on five seeds:

# %% tags=["demo-atomic"]
rows = []
for atomic in (False, True):
    torn = 0
    for seed in range(1, 6):
        run = labs.run(mr.lab(atomic=atomic, length=20), "sim", crashes, seed=seed)
        torn += len(mr.torn_files(run))
    rows.append({"worker writes": "under its own names" if atomic else "in place", "runs with a torn file": torn,
                 "last run's output right": mr.correct(run)})
display(table_of(rows, title="Five crashing runs each"))
print(mr.torn_files(labs.run(mr.lab(atomic=False, length=20), "sim", crashes, seed=1))[0])

# %% [markdown]
# **Look at** the last column: even the in-place runs end with the right output, because the
# coordinator re-ran the torn task and the rewrite covered the damage. That is luck, not design:
# between the crash and the rewrite the torn file sat under its real name, and anyone who read it
# then (a reduce task started by a slightly different coordinator, a user listing the output, a
# second attempt that finds the file "already there") took half a file for a whole one. The lab's
# `crash-partial-output` test fails a worker for leaving one there at all.

# %% [markdown]
# ## 7. The network is the bottleneck: combiners and locality
#
# In 2004 a Google data centre's network was the scarce resource: every machine could read its
# own disk faster than the network could carry data between racks. Two ideas follow.
#
# **Combiners.** Word count's map emits `("the", "1")` once per occurrence, and all of those cross
# the network in the shuffle. Because adding up is associative and commutative, a map task can add
# up its own words first and emit `("the", "5123")` once. Same output, much less shuffle:

# %% tags=["demo-combiner"]
rows = []
for app in ("wc", "wc_combined"):
    run = labs.run(mr.lab(app=app, length=20), "sim", mr.clean(20), seed=1)
    rows.append({"application": app, "shuffle bytes": mr.shuffle_bytes(run),
                 "job time (s)": mr.job_time(run), "output right": mr.correct(run)})
table_of(rows, title="Word count with and without a combiner, small corpus")

# %% [markdown]
# **Look at** the shuffle column, and the job time with it: in this simulation time is bytes read
# and written, as it was in the data centre.
#
# **Locality.** The input lives in GFS, split into 64 MB chunks with three copies each on different
# machines. The coordinator knows where the chunks are and gives a map task to a worker that holds
# a copy of its input (or one in the same rack), so that most input is read from a local disk and
# never crosses the network at all. Moving the computation to the data is cheaper than moving the
# data to the computation, the same lesson as keeping a cache next to what it caches. Our
# simulated cluster has one shared file system and no racks, so there is nothing to demo here,
# only the habit to keep: count the bytes that must move, and move the code instead when it is
# smaller.

# %% [markdown]
# ## 8. What MapReduce is bad at
#
# The framework buys fault tolerance and parallelism with files: every task reads its input from
# disk and writes its output to disk, and nothing is shared. That makes it a poor fit for:
#
# - **small data**: the fixed costs (starting tasks, writing intermediate files, encoding every pair)
#   dwarf the work. Below, the whole job over the 7 MB full corpus in one plain Python process.
#   The lab's benchmark (`python benchmarks/mapreduce.py`) runs the same job on Ray with real
#   processes: 5.2 s with one worker and 4.5 s with four, on a two-core machine. Know what one
#   machine can do before you reach for a cluster.
# - **iterative algorithms** (PageRank, k-means, training a model): each iteration is a whole job
#   that writes everything to disk and reads it back. Spark keeps the data in memory between steps.
# - **low latency and streams**: a job has a start and an end and answers in minutes; a query that
#   must answer in milliseconds, or a stream with no end, needs other designs.
# - **anything that is not a map and a reduce**: joins, graphs and multi-stage pipelines become
#   chains of jobs, each paying the full cost.

# %% tags=["demo-one-machine"]
full = {f"input/{name}": text for name, text in read_books("full").items()}
started = time.perf_counter()
answer = sequential("wc", full)
seconds = time.perf_counter() - started
print(f"{sum(len(t) for t in full.values()) / 1e6:.1f} MB, {len(answer):,} distinct words, "
      f"counted in {seconds:.2f} s by one process")

# %% [markdown]
# ## And in the lab
#
# The lab's coordinator uses the same rule as section 4; its constants are part of the handout:

# %% tags=["demo-lab-timeout"]
import yaml

from labs.mapreduce.node import TIMEOUT

suite = yaml.safe_load((Path(labs.__file__).parent / "mapreduce" / "suite.yaml").read_text())
straggler_test = next(t for t in suite["tests"] if t["name"] == "straggler")
print(f"labs/mapreduce/node.py: TIMEOUT = {TIMEOUT} s")
print(f"test {straggler_test['name']} ({straggler_test['points']} points): {straggler_test['description']}")

# %% [markdown]
# ## Summary
#
# | idea | what it buys | what it costs |
# |---|---|---|
# | map and reduce as pure functions | any task can run anywhere, any number of times | only jobs that fit the shape |
# | partition by key hash | each key reduced in one place | a hot key is a floor on the job's time |
# | re-execution after a timeout | crashes cost a timeout, not the job | slow tasks may run twice |
# | backup tasks | stragglers stop setting the pace | duplicated work near the end |
# | write, then rename | no reader sees half a file | a temporary file per attempt |
# | combiners, locality | less data on the network | only for associative reductions; a scheduler that knows where data is |

# %% [markdown]
# ## Exercises
#
# Five small functions. Write each in the cell marked `YOUR CODE HERE` (in the instructor's copy,
# the solution), then run the test cell below it. Two tests plug your code into the chapter's
# MapReduce and run a job with it.

# %% [markdown]
# ### Exercise 1: which reduce task? (2 points)
#
# Write `partition_of(key, reduces)`: the reduce task (0 to `reduces - 1`) that receives `key`, the
# same on every machine. Use `ihash`.

# %% nbgrader={"grade": false, "grade_id": "partition_of", "locked": false, "schema_version": 3, "solution": true, "task": false}
def partition_of(key, reduces):
    ### BEGIN SOLUTION
    return ihash(key) % reduces
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_partition_of", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert all(0 <= partition_of(w, 7) < 7 for w in counts)
assert partition_of("the", 4) == partition_of("the", 4)
assert len({partition_of(w, 4) for w in counts}) == 4, "every reduce task should get some keys"
assert partition_of("the", 4) == ihash("the") % 4, "use ihash: Python's hash() differs between processes"

# %% [markdown]
# ### Exercise 2: group the pairs (2 points)
#
# Write `group(pairs)`: a list of `(key, values)` with one entry per key, keys in sorted order,
# each key's values in the order they came. It is what a reduce task does with its input before it
# calls reduce.

# %% nbgrader={"grade": false, "grade_id": "group", "locked": false, "schema_version": 3, "solution": true, "task": false}
def group(pairs):
    ### BEGIN SOLUTION
    found = {}
    for k, v in pairs:
        found.setdefault(k, []).append(v)
    return sorted(found.items())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_group", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
book = next(iter(small.values()))
assert group([]) == []
assert group([("b", "1"), ("a", "x"), ("b", "2")]) == [("a", ["x"]), ("b", ["1", "2"])]
grouped = group(wc.map(None, "book", book))
assert [k for k, _ in grouped] == sorted(set(wc.WORD.findall(book)))
assert dict((k, len(v)) for k, v in grouped) == Counter(wc.WORD.findall(book))

# %% [markdown]
# ### Exercise 3: which tasks are overdue? (2 points)
#
# The coordinator keeps `started`, a dictionary from the name of each running task to the time it
# was handed out. Write `overdue(started, now, timeout)`: the names of the tasks that have run
# **longer** than `timeout`, sorted. The test runs the straggler job with your function in the
# chapter's coordinator.

# %% nbgrader={"grade": false, "grade_id": "overdue", "locked": false, "schema_version": 3, "solution": true, "task": false}
def overdue(started, now, timeout):
    ### BEGIN SOLUTION
    return sorted(name for name, since in started.items() if now - since > timeout)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_overdue", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert overdue({}, 5.0, 2.0) == []
assert overdue({"map-1": 1.0, "map-0": 2.5, "reduce-2": 0.0}, 3.5, 2.0) == ["map-1", "reduce-2"]
assert overdue({"map-0": 1.0}, 3.0, 2.0) == [], "exactly the timeout is not longer than it"
yours = labs.run(mr.lab(app="slow", length=25, overdue=overdue), "sim", mr.clean(25), seed=1)
assert mr.correct(yours) and mr.job_time(yours) < 8, f"the stragglers held the job up: {mr.job_time(yours)}"
print(f"with your overdue(): job time {mr.job_time(yours):.2f} s")

# %% [markdown]
# ### Exercise 4: a combiner for word count (2 points)
#
# Write `combine(pairs)`: given one map task's word-count pairs (`(word, "1")` each), return one
# pair per word with its total as a string, words in sorted order.

# %% nbgrader={"grade": false, "grade_id": "combine", "locked": false, "schema_version": 3, "solution": true, "task": false}
def combine(pairs):
    ### BEGIN SOLUTION
    totals = Counter()
    for word, n in pairs:
        totals[word] += int(n)
    return [(word, str(total)) for word, total in sorted(totals.items())]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_combine", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert combine([]) == []
assert combine([("b", "1"), ("a", "1"), ("b", "1")]) == [("a", "1"), ("b", "2")]
raw = wc.map(None, "book", book)
combined = combine(raw)
assert len(combined) < len(raw) / 3, "a combiner should shrink a book's pairs several times"
assert {w: int(n) for w, n in combined} == Counter(wc.WORD.findall(book))

# %% [markdown]
# ### Exercise 5: publish a file whole (2 points)
#
# Write `publish(files, name, text)`: afterwards the file `name` holds `text`, and at no moment did
# `name` hold anything else but its old content or `text`. `files` has `write(name, text)` and
# `rename(src, dst)`; `write` is not atomic. Pick a temporary name no one else uses.

# %% nbgrader={"grade": false, "grade_id": "publish", "locked": false, "schema_version": 3, "solution": true, "task": false}
import uuid


def publish(files, name, text):
    ### BEGIN SOLUTION
    scratch = f"tmp/{name}.{uuid.uuid4().hex}"
    files.write(scratch, text)
    files.rename(scratch, name)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_publish", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
from labs.runtime.files import MemoryFiles

log = []
store = MemoryFiles({"mr-out-0": "old\n"}, lambda kind, **f: log.append(f))
publish(store, "mr-out-0", "new\n")
publish(store, "mr-out-1", "fresh\n")
assert store.read("mr-out-0") == "new\n" and store.read("mr-out-1") == "fresh\n"
assert not [f for f in log if f["op"] == "write" and f["name"].startswith("mr-out")], \
    "the file was written in place: a crash in the middle would leave half of it"
assert sorted(f["to"] for f in log if f["op"] == "rename") == ["mr-out-0", "mr-out-1"]
assert store.list("mr-") == ["mr-out-0", "mr-out-1"], "leave no temporary file under a trusted name"

# %% [markdown]
# ## Further reading
#
# - Jeffrey Dean and Sanjay Ghemawat, *MapReduce: Simplified Data Processing on Large Clusters*
#   (OSDI 2004): the paper, with the backup-task measurements, locality and the refinements
#   (combiners, skipping bad records) this chapter touched on.
# - Sanjay Ghemawat, Howard Gobioff and Shun-Tak Leung, *The Google File System* (SOSP 2003): where
#   the input and output live, and why chunks are big and replicated.
# - MIT 6.824 (now 6.5840), Lab 1: the lab this course's MapReduce lab follows; its lecture notes
#   on the paper.
# - Matei Zaharia et al., *Resilient Distributed Datasets* (NSDI 2012): Spark, and what keeping data
#   in memory between steps changes for iterative jobs.
# - Martin Cartledge, *Intro to Distributed Systems* (2023): a roadmap through 6.824 that starts with
#   MapReduce; and Jeff Hodges, *Notes on Distributed Systems for Young Bloods* (2013), on data
#   locality and on knowing what one machine can do.
