"""Imported last by the forkserver that step processes are forked from (pipelines/executor.py).

`gc.freeze()` moves every object the server imported (Dagster, the code location, pandas:
hundreds of thousands of objects) into the garbage collector's permanent generation. Without
it, each step process walks that whole inherited heap at every full collection, writing each
object's collector header and so copying the server's memory pages into the step, page by
page: about a quarter of the multiprocess build's CPU went to it (the execution plan each
step process builds triggers those collections). Objects created after the fork are
collected as usual.
"""

import gc

gc.freeze()
