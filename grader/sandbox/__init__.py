"""The sandbox: the only process that runs learner code.

It is started by the judge as `python -I -B grader/sandbox/start.py ...`, confines
itself with what the operating system offers (see `confine`), imports torch, and
then answers the judge's requests (`main`). Nothing of the judge is importable
from here: the judge's engine lives in `grader/judge/`, which the sandbox never
loads, and under confinement cannot read.

- `kernels`: the names of torch's recurrent building blocks an exercise forbids;
- `guards`: the run-time check that refuses them when learner code calls them;
- `given`: torch-built cells the judge hands to learner code as arguments;
- `wire`: the channel's codec, which the judge reads replies with too;
- `main`: the request loop.
"""
