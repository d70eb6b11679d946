"""Imported last by the forkserver that step processes are forked from (pipelines/executor.py).

`gc.freeze()` moves every object the server imported (Dagster, the code location, pandas:
hundreds of thousands of objects) into the garbage collector's permanent generation. Without
it, each step process walks that whole inherited heap at every full collection, and touching
the objects' reference counts copies their memory pages from the server, page by page: a
third of the multiprocess build's CPU went to it (the execution plan each step process
builds triggers those collections). Objects created after the fork are collected as usual.
"""

import gc

gc.freeze()
