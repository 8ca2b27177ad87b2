"""Classification on a Dask cluster (``classifyimage`` with ``DASK_SCHEDULER``).

The client (the worker job on the user's machine) plans the blocks, sends the plugin's code and
the model file's bytes to the cluster, and writes the results at their offsets in block order;
each Dask worker reads its own window of the input and predicts it with the single-machine path's
``core.classify.read_classify_inputs`` and ``classify_values`` (the model on the engine the client
chose) and returns the block's outputs. ``core.classify.classify_raster`` stays the block loop.

* :mod:`.address`  the ``DASK_SCHEDULER`` value (no Dask import: the QGIS process checks it)
* :mod:`.session`  the client side: connect or start a local cluster, ship code and model, check
  the workers' libraries and their access to the input
* :mod:`.remote`   what runs on the workers: the model cache, the block task, the checks
* :mod:`.runner`   :class:`~.runner.ClusterBlocks`, the ``core.classify.BlockRunner`` on a cluster

Nothing here is imported by the QGIS process except :mod:`.address`.
"""
