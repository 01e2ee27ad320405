"""On top of everything: the ``sar-helpers`` command line, papermill reports, the Jupyter kernel
extension and ``sar-helpers lab``, and the Dask client."""
