"""What serves mosaics to a datacube on this machine: the 1° tile grid, the local cube machinery
(``localcube``), the synthetic test cube (``testcube``) and the real-data cube (``realcube``)."""
