"""What the mosaics say: masks, calibration, observation dates, time steps and statistics."""
